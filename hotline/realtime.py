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
        cors_allowed_origins=app.config.get("SOCKETIO_CORS_ORIGINS", []),
    )


def publish(name: str, payload: dict[str, Any], *, room: str | None, outbox_id: int) -> None:
    """Emit an event; `event_id` lets clients ask for what they missed after a reconnect."""
    socketio.emit(name, {**payload, "event_id": outbox_id}, to=room)
