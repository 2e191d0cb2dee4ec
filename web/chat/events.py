"""Socket.IO handlers of the web chat: "/chat" for the citizen's widget (authenticated by the
`hotline_chat` cookie), "/office" for the staff side (authenticated by the login session).

Handlers stay thin: authenticate, validate the payload's shape, call one service, return
an ack `{"ok": true, ...}` or `{"ok": false, "error": {code, message, message_zh}}`. Pushes
(`chat.message`, `chat.started`, `chat.closed`) come from the services through the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request
from flask.blueprints import BlueprintSetupState
from flask_login import current_user
from flask_socketio import ConnectionRefusedError as Refused
from flask_socketio import join_room

from hotline.errors import HotlineError, InvalidInput, NotAuthenticated, PermissionDenied
from hotline.extensions import db, socketio
from hotline.intake import chat
from hotline.models import ChatSession, Role, User
from web.chat import bp
from web.chat.views import current_chat_token

log = logging.getLogger(__name__)

CHAT = "/chat"
OFFICE = "/office"
# Staff who see incoming chats; handlers and knowledge editors work elsewhere.
OFFICE_ROLES = frozenset({Role.AGENT, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
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


def _unexpected(exc: Exception) -> Ack:
    # A failure here is a bug: log it with its traceback, tell the client nothing more.
    db.session.rollback()
    # Flask-SocketIO sets these on the request; the event's args may hold cookies: not logged.
    event = getattr(request, "event", {}).get("message")
    log.error(
        "socket event %s on %s failed", event, getattr(request, "namespace", None), exc_info=exc
    )
    error = {"code": "internal_error", "message": "Internal error", "message_zh": "服务器内部错误"}
    return {"ok": False, "error": error}


def _fields(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidInput("expected an object", "请求格式无效")
    return data


def _refuse(error: HotlineError) -> Refused:
    # Socket.IO's own exception (not the builtin of that name) refuses the handshake.
    return Refused(error.to_dict())


def _same_origin() -> bool:
    """A browser's cross-site handshake is refused: cookies alone must not open a socket."""
    origin = request.headers.get("Origin")
    if not origin:
        return True  # not a browser, or a same-origin request that omits it
    allowed = {request.host}
    if current_app.config.get("PUBLIC_BASE_URL"):
        allowed.add(urlsplit(current_app.config["PUBLIC_BASE_URL"]).netloc)
    return urlsplit(origin).netloc in allowed


# -- the citizen's widget -----------------------------------------------------------------


def _citizen_session() -> ChatSession:
    session = chat.session_for_token(current_chat_token())
    if session is None:
        raise NotAuthenticated("no chat session", "会话已失效，请重新发起咨询")
    return session


def chat_connect(auth: Any = None) -> None:
    if not _same_origin():
        raise _refuse(NotAuthenticated("cross-site connection", "不允许跨站连接"))
    try:
        session = _citizen_session()
    except HotlineError as exc:
        raise _refuse(exc) from None
    join_room(f"chat:{chat.mark_seen(session)}")


@acked
def chat_send(data: Any = None) -> Ack:
    fields = _fields(data)
    message = chat.post_citizen_message(
        _citizen_session(), fields.get("text"), client_id=fields.get("client_id")
    )
    return {"ok": True, "id": message.id}


@acked
def chat_history(data: Any = None) -> Ack:
    fields = _fields(data if data is not None else {})
    session = _citizen_session()
    return {"ok": True, "messages": chat.chat_history(session.ticket_id, fields.get("since_id", 0))}


@acked
def chat_leave(data: Any = None) -> Ack:
    chat.leave_chat(_citizen_session())
    return {"ok": True}


# -- the office side ----------------------------------------------------------------------


def _staff() -> User:
    if not current_user.is_authenticated:
        raise NotAuthenticated("sign in first", "请先登录")
    user: User = current_user._get_current_object()
    if user.role not in OFFICE_ROLES:
        raise PermissionDenied("office staff only", "仅话务中心人员可以使用")
    return user


def office_connect(auth: Any = None) -> None:
    if not _same_origin():
        raise _refuse(NotAuthenticated("cross-site connection", "不允许跨站连接"))
    try:
        _staff()
    except HotlineError as exc:
        raise _refuse(exc) from None
    join_room("office")


@acked
def chat_reply(data: Any = None) -> Ack:
    fields = _fields(data)
    message = chat.post_agent_message(_reference(fields), _staff(), fields.get("text"))
    return {"ok": True, "id": message.id}


@acked
def chat_close(data: Any = None) -> Ack:
    chat.close_chat(_reference(_fields(data)), _staff())
    return {"ok": True}


@acked
def office_chat_history(data: Any = None) -> Ack:
    fields = _fields(data)
    messages = chat.office_history(_reference(fields), _staff(), fields.get("since_id", 0))
    return {"ok": True, "messages": messages}


def _reference(fields: dict[str, Any]) -> str:
    reference = fields.get("reference")
    if not isinstance(reference, str) or not 0 < len(reference) <= 32:
        raise InvalidInput("reference is required", "缺少工单编号", field="reference")
    return reference


# Registered per app: the Socket.IO server is made anew by each `socketio.init_app`, and
# `@socketio.on` only reaches the server that exists at import time.
HANDLERS: tuple[tuple[str, str, Callable[..., Any]], ...] = (
    (CHAT, "connect", chat_connect),
    (CHAT, "chat.send", chat_send),
    (CHAT, "chat.history", chat_history),
    (CHAT, "chat.leave", chat_leave),
    (OFFICE, "connect", office_connect),
    (OFFICE, "chat.reply", chat_reply),
    (OFFICE, "chat.close", chat_close),
    (OFFICE, "chat.history", office_chat_history),
)


@bp.record_once
def _register(state: BlueprintSetupState) -> None:
    for namespace, event, handler in HANDLERS:
        socketio.on_event(event, handler, namespace=namespace)
    for namespace in (CHAT, OFFICE):
        socketio.on_error(namespace)(_unexpected)
