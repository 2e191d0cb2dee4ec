"""12345 Hotline: the app factory is a table of contents."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from hotline import privacy
from hotline.config import Config, environment_overrides
from hotline.extensions import babel, csrf, db, limiter, login_manager, migrate

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("HOTLINE_INSTANCE_PATH") or None,
        instance_relative_config=True,
        template_folder="../web/templates",
        static_folder="../web/static",
    )
    load_configuration(app, test_config)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def load_configuration(app: Flask, test_config: dict[str, Any] | None) -> None:
    app.config.from_object(Config)
    app.config.from_pyfile("hotline.cfg", silent=True)
    app.config.update(environment_overrides())
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            f"sqlite:///{Path(app.instance_path) / 'hotline.sqlite3'}"
        )
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError(
            "SECRET_KEY is not set: put it in the environment or instance/hotline.cfg "
            "(`make run` writes one for local use)"
        )
    if not app.config.get("PII_KEY"):
        raise RuntimeError("PII_KEY is not set: personal data is encrypted with it")
    privacy.configure(
        app.config["PII_KEY"], app.config.get("PII_LOOKUP_KEY"), app.config.get("AUDIT_KEY")
    )
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"))


def register_extensions(app: Flask) -> None:
    from hotline import (
        database,
        kpi_rollup,  # noqa: F401  (changes to ended days are logged)
        realtime,
    )
    from hotline.auth import load_user, load_user_from_request
    from hotline.tickets import warnings  # noqa: F401  (deadlines carry their warning times)
    from web.i18n import ensure_compiled, select_locale

    db.init_app(app)
    database.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.user_loader(load_user)
    login_manager.request_loader(load_user_from_request)
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    limiter.init_app(app)
    ensure_compiled()
    babel.init_app(app, locale_selector=select_locale)
    realtime.init_app(app)


def register_blueprints(app: Flask) -> None:
    from web import register

    register(app)


def register_errorhandlers(app: Flask) -> None:
    from web.errors import register_handlers

    register_handlers(app)


def register_commands(app: Flask) -> None:
    from hotline.cli import register_app_commands

    register_app_commands(app)


def new_secret() -> str:
    return secrets.token_urlsafe(32)
