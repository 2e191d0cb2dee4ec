"""Socket.IO wiring: one server per process; Redis carries events between processes."""

from __future__ import annotations

from typing import Any

from flask import Flask

from hotline.extensions import socketio


def init_app(app: Flask) -> None:
    queue_url = app.config.get("REDIS_URL") if app.config.get("SOCKETIO_MESSAGE_QUEUE") else None
    socketio.init_app(
        app,
        async_mode="threading",
        message_queue=queue_url,
        # None: python-engineio accepts only the page's own origin (X-Forwarded-* aware);
        # [] would switch the Origin check off for cookie-authenticated sockets.
        cors_allowed_origins=app.config.get("SOCKETIO_CORS_ORIGINS"),
    )


# Citizens' chat widgets connect to "/chat"; every staff screen connects to "/office".
CITIZEN_NAMESPACE = "/chat"
STAFF_NAMESPACE = "/office"


def namespace_for(room: str | None) -> str:
    return CITIZEN_NAMESPACE if room and room.startswith("chat:") else STAFF_NAMESPACE


def publish(name: str, payload: dict[str, Any], *, room: str | None, outbox_id: int) -> None:
    """Emit an event; `event_id` lets clients ask for what they missed after a reconnect."""
    socketio.emit(name, {**payload, "event_id": outbox_id}, to=room, namespace=namespace_for(room))
