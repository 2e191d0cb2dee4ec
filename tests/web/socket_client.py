"""Socket.IO test clients that share a Flask test client's cookies (its login session)."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask.testing import FlaskClient

from hotline.auth import add_user
from hotline.extensions import db, socketio
from hotline.outbox import relay_pending
from tests.conftest import Client

PASSWORD = "correct horse battery staple"


def _forget_request_state() -> None:
    # The test keeps one app context for every request and socket event: drop what the
    # previous one cached in `g`, as a real request's own context would.
    g.pop("_login_user", None)
    g.pop("_flask_babel", None)


class PageClient(Client):
    def open(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def,override]
        _forget_request_state()
        return super().open(*args, **kwargs)


class Socket:
    """A Socket.IO test client on one namespace, sharing a Flask client's cookies."""

    def __init__(self, app: Flask, namespace: str, client: FlaskClient, **kwargs: Any) -> None:
        _forget_request_state()
        self.namespace = namespace
        self.sio = socketio.test_client(
            app, namespace=namespace, flask_test_client=client, **kwargs
        )
        self.inbox: list[dict[str, Any]] = []

    @property
    def connected(self) -> bool:
        return bool(self.sio.is_connected(self.namespace))

    def call(self, event: str, data: Any = None) -> Any:
        """Emit and return the ack."""
        _forget_request_state()
        return self.sio.emit(event, data, namespace=self.namespace, callback=True)

    def received(self, name: str | None = None) -> list[Any]:
        """Payloads pushed so far (of `name`, or all); others stay for a later call."""
        self.inbox += self.sio.get_received(self.namespace)
        taken = [p for p in self.inbox if name is None or p["name"] == name]
        self.inbox = [p for p in self.inbox if p not in taken]
        return [p["args"][0] for p in taken]


def relay() -> int:
    db.session.rollback()  # SQLite: end this test's transaction so the relay can write
    return relay_pending()


def login(app: Flask, username: str, role: str, department: str | None = None) -> FlaskClient:
    add_user(username, role, department_code=department, password=PASSWORD)
    staff_client = app.test_client()
    response = staff_client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.text
    return staff_client
