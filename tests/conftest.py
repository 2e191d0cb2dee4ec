"""Shared fixtures: an app on a migrated database (SQLite, or PostgreSQL when
TEST_DATABASE_URL is set by `make test`), clients, users and API helpers."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import text

from hotline import create_app
from hotline.extensions import db

TEST_SECRET = "test-secret-key-not-for-production"
TEST_PII_KEY = "test-pii-key-not-for-production"
REPO = Path(__file__).resolve().parent.parent
CATALOGUE = REPO / "routing" / "data" / "jiangmen_catalogue.yaml"


def _database_url(tmp_dir: Path) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_dir / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def _tmp_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="hotline-test-") as tmp:
        yield Path(tmp)


def base_config(tmp_dir: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "PII_KEY": TEST_PII_KEY,
        "SQLALCHEMY_DATABASE_URI": _database_url(tmp_dir),
        "REDIS_URL": os.environ.get("REDIS_URL"),
        "SOCKETIO_MESSAGE_QUEUE": False,
        "OUTBOX_RELAY_ON_COMMIT": False,
        "RATELIMIT_ENABLED": False,  # tests that check limits turn it on
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": None,
        # Cheap hashes keep the suite fast; production uses Argon2id's defaults.
        "ARGON2_PARAMETERS": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
        # Tests run at any hour: SMS quiet hours are tested where they are the subject.
        "SMS_QUIET_HOURS": None,
    }


@pytest.fixture(scope="session")
def _schema(_tmp_dir: Path) -> Iterator[None]:
    """Build the schema once per run with the real migrations (never create_all)."""
    from flask_migrate import downgrade, upgrade

    os.environ.setdefault("HOTLINE_INSTANCE_PATH", str(_tmp_dir / "instance"))
    app = create_app(base_config(_tmp_dir))
    with app.app_context():
        downgrade(revision="base")
        upgrade()
        db.engine.dispose()
    yield


def _empty_all_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
        # The knowledge base's FTS5 index is not a model (migration 0004 makes it).
        db.session.execute(text("DELETE FROM kb_fts"))
        db.session.execute(text("DELETE FROM kb_fts_subject"))
    db.session.commit()


def _forget_live_state(application: Flask) -> None:
    """Edit locks, open-ticket lists and agents' states live in Redis, keyed by ticket
    reference or user id, and both start again in every test: none may outlive it."""
    url = application.config.get("REDIS_URL")
    if not url:
        return
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        redis = Redis.from_url(url, socket_connect_timeout=1)
        for pattern in ("ticket-lock:*", "ticket-viewers:*", "socket-locks:*", "agent-states"):
            keys = list(redis.scan_iter(pattern))
            if keys:
                redis.delete(*keys)
        redis.close()
    except RedisError:
        pass  # no Redis for this run: nothing can have been locked


class Client(FlaskClient):
    """Requests run inside the test's app context, so forget the user Flask-Login cached
    in `g` by the previous request (each real request has its own context)."""

    def open(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def,override]
        g.pop("_login_user", None)
        g.pop("_flask_babel", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def app(_schema: None, _tmp_dir: Path) -> Iterator[Flask]:
    application = create_app(base_config(_tmp_dir))
    application.test_client_class = Client
    with application.app_context():
        from hotline.clock.service import invalidate_calendar_cache

        invalidate_calendar_cache()
        _forget_live_state(application)
        yield application
        db.session.remove()
        _empty_all_tables()
        _forget_live_state(application)
        invalidate_calendar_cache()
        db.session.remove()
        db.engine.dispose()  # each test's app has its own pool: close it


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


@pytest.fixture
def catalogue(app: Flask):  # type: ignore[no-untyped-def]
    from routing.catalogue import import_catalogue

    return import_catalogue(CATALOGUE, imported_by="tests")


class Api:
    """JSON API calls as a named user (bearer tokens, as cities script it)."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}

    def user(
        self, name: str, role: str, department: str | None = None, password: str | None = None
    ) -> str:
        from hotline.auth import add_user, issue_token

        add_user(name, role, department_code=department, password=password)
        self.tokens[name] = issue_token(name)
        return name

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, who: str, path: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        return self.client.get("/api/v1" + path, headers=self.headers(who), **kwargs)

    def post(self, who: str, path: str, body: Any = None, **kwargs: Any):  # type: ignore[no-untyped-def]
        return self.client.post(
            "/api/v1" + path,
            json=body if body is not None else {},
            headers=self.headers(who),
            **kwargs,
        )

    def act(self, who: str, reference: str, action: str, body: Any = None):  # type: ignore[no-untyped-def]
        return self.post(who, f"/tickets/{reference}/{action}", body)


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)


@pytest.fixture
def staff(api: Api, catalogue: Any) -> Api:
    """The catalogue plus one user of each office role and handlers of three units."""
    api.user("agent", "agent")
    api.user("dispatcher", "dispatcher")
    api.user("supervisor", "supervisor")
    api.user("admin", "admin")
    api.user("editor", "editor")
    api.user("scjg", "handler", "SCJGJ")
    api.user("pjq", "handler", "PJQ")
    api.user("rsj", "handler", "RSJ")
    return api


@pytest.fixture
def queue(app: Flask):  # type: ignore[no-untyped-def]
    """The app's RQ queue on the test Redis, emptied before and after (needs REDIS_URL)."""
    from rq import Queue

    from hotline.queue import DEFAULT_QUEUE, redis_connection

    connection = redis_connection()
    connection.flushdb()
    yield Queue(DEFAULT_QUEUE, connection=connection)
    connection.flushdb()
