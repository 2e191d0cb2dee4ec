"""What every benchmark needs: an app on a throwaway (or given) migrated database."""

from __future__ import annotations

import os
import tempfile

from flask import Flask

# The benchmark's own directories (instance folder, SQLite database): removed when the
# process ends, by TemporaryDirectory's finalizer. A run of `make bench` left a few
# megabytes behind each time before, and a database of 100,000 articles gigabytes.
_SCRATCH: list[tempfile.TemporaryDirectory[str]] = []


def _scratch() -> str:
    directory = tempfile.TemporaryDirectory(prefix="hotline-bench-")
    _SCRATCH.append(directory)
    return directory.name


def make_app(database_url: str | None = None) -> Flask:
    from flask_migrate import upgrade

    from hotline import create_app

    if "HOTLINE_INSTANCE_PATH" not in os.environ:
        os.environ["HOTLINE_INSTANCE_PATH"] = _scratch()
    url = database_url or f"sqlite:///{_scratch()}/bench.sqlite3"
    app = create_app(
        {
            "SECRET_KEY": "bench",
            "PII_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": url,
            "OUTBOX_RELAY_ON_COMMIT": False,
            "SOCKETIO_MESSAGE_QUEUE": False,
        }
    )
    with app.app_context():
        upgrade()
    return app


def throwaway_postgres(settings: dict[str, str] | None = None) -> str:
    """The URL of a throwaway PostgreSQL cluster the test harness starts (and stops when
    the process ends), with server `settings`: `--postgres` of the benchmarks that
    measure both databases."""
    from tests.harness import Services, provide_postgres

    services = Services()
    url = provide_postgres(services, settings)
    if url is None:
        raise SystemExit("no PostgreSQL: " + "; ".join(services.skipped))
    return url
