"""What every Socket.IO handler shares: error acks, the refusal of a handshake, the
same-origin check, and reading a payload's fields.

Handlers stay thin: authenticate, validate the payload's shape, call one service, return
an ack `{"ok": true, ...}` or `{"ok": false, "error": {code, message, message_zh}}`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request
from flask_socketio import ConnectionRefusedError as Refused

from hotline.errors import HotlineError, InvalidInput
from hotline.extensions import db

log = logging.getLogger(__name__)

Ack = dict[str, Any]


def acked(handler: Callable[..., Ack]) -> Callable[..., Ack]:
    """Turn a service's HotlineError into an error ack (the Socket.IO face of a 4xx)."""

    @wraps(handler)
    def wrapper(*args: Any) -> Ack:
        try:
            return handler(*args)
        except HotlineError as exc:
            db.session.rollback()
            return {"ok": False, "error": exc.to_dict()}

    return wrapper


def unexpected(exc: Exception) -> Ack:
    """A failure here is a bug: logged with its traceback; the client learns nothing more."""
    db.session.rollback()
    # Flask-SocketIO sets these on the request; the event's args may hold cookies: not logged.
    event = getattr(request, "event", {}).get("message")
    log.error(
        "socket event %s on %s failed", event, getattr(request, "namespace", None), exc_info=exc
    )
    error = {"code": "internal_error", "message": "Internal error", "message_zh": "服务器内部错误"}
    return {"ok": False, "error": error}


def fields_of(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidInput("expected an object", "请求格式无效")
    return data


def reference_of(fields: dict[str, Any]) -> str:
    reference = fields.get("reference")
    if not isinstance(reference, str) or not 0 < len(reference) <= 32:
        raise InvalidInput("reference is required", "缺少工单编号", field="reference")
    return reference


def refuse(error: HotlineError) -> Refused:
    # Socket.IO's own exception (not the builtin of that name) refuses the handshake.
    return Refused(error.to_dict())


def same_origin() -> bool:
    """A browser's cross-site handshake is refused: cookies alone must not open a socket."""
    origin = request.headers.get("Origin")
    if not origin:
        return True  # not a browser, or a same-origin request that omits it
    allowed = {request.host}
    if current_app.config.get("PUBLIC_BASE_URL"):
        allowed.add(urlsplit(current_app.config["PUBLIC_BASE_URL"]).netloc)
    return urlsplit(origin).netloc in allowed
