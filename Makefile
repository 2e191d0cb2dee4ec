# 12345 Hotline: `make run` (local demo) and `make test` (SQLite + PostgreSQL, real Redis).
# Everything installs into $(VENV); it is reinstalled when setup.cfg or the set of packages changes.

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The editable install maps top-level packages by name: reinstall when one is added.
PACKAGES := $(sort $(patsubst %/__init__.py,%,$(wildcard */__init__.py)))
PACKAGE_LIST := $(VENV)/.packages
INSTANCE_DIR ?= $(or $(HOTLINE_INSTANCE_PATH),instance)
HOST ?= 127.0.0.1
PORT ?= 5000
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: FORCE help install run test lint format bench clean distclean

help:
	@echo "make run      install, set up $(INSTANCE_DIR)/, load the demo city, serve on http://$(HOST):$(PORT)/"
	@echo "make test     the test suite on SQLite and PostgreSQL (ARGS='...' goes to pytest)"
	@echo "make lint     ruff check + ruff format --check"
	@echo "make bench    python -m benchmarks"
	@echo "make clean    caches and build output (keeps $(VENV) and $(INSTANCE_DIR)/)"

install: $(STAMP)

# Rewritten only when the set of packages changes, so its date says when that was.
$(PACKAGE_LIST): FORCE
	@if [ -d $(VENV) ]; then \
		echo '$(PACKAGES)' | cmp -s - $@ || echo '$(PACKAGES)' > $@; fi

$(STAMP): setup.cfg pyproject.toml $(PACKAGE_LIST)
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
		echo "error: $(PYTHON) not found: 12345 Hotline needs Python 3.11 or newer" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "error: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'):" \
			"12345 Hotline needs Python 3.11 or newer (make PYTHON=python3.11 ...)" >&2; exit 1; }
	@if ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
			|| ! $(BIN)/python -m pip --version >/dev/null 2>&1; then \
		echo "creating $(VENV) with $$($(PYTHON) --version)"; \
		$(PYTHON) -m venv --clear $(VENV) || { \
			echo "error: '$(PYTHON) -m venv' failed (Debian: apt-get install python3-venv)" >&2; \
			exit 1; }; \
	fi
	@echo "installing 12345 Hotline and its dependencies into $(VENV)"
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@echo '$(PACKAGES)' > $(PACKAGE_LIST)
	@touch $@

# Written once with fresh random keys; never overwritten (losing PII_KEY loses personal data).
$(INSTANCE_DIR)/hotline.cfg:
	@mkdir -p $(INSTANCE_DIR)
	@$(PYTHON) -c 'import os, secrets, sys; \
		path = sys.argv[1]; \
		fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600); \
		os.write(fd, ("# Local settings written once by make run: keep secret, never commit.\n" \
			"# Losing PII_KEY makes the stored personal data unreadable.\n" \
			f"SECRET_KEY = {secrets.token_urlsafe(32)!r}\n" \
			f"PII_KEY = {secrets.token_urlsafe(32)!r}\n").encode()); \
		os.close(fd)' $@
	@echo "wrote $@ with new random SECRET_KEY and PII_KEY"

run: export HOTLINE_INSTANCE_PATH := $(abspath $(INSTANCE_DIR))
run: $(STAMP) $(INSTANCE_DIR)/hotline.cfg
	$(BIN)/hotline db upgrade
	$(BIN)/hotline demo
	$(BIN)/hotline serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m tests.harness $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	@test -f benchmarks/__main__.py || { \
		echo "error: benchmarks/__main__.py does not exist yet, so there is nothing for" \
			"'make bench' to run (see benchmarks/README.md)" >&2; exit 1; }
	$(BIN)/python -m benchmarks $(ARGS)

clean:
	rm -rf build dist .pytest_cache .ruff_cache .hypothesis ./*.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# Also the virtualenv; $(INSTANCE_DIR)/ (keys, database) is never removed by make.
distclean: clean
	rm -rf $(VENV)
