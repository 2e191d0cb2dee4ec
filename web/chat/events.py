"""Socket.IO handlers of the web chat: "/chat" for the citizen's widget (authenticated by the
`hotline_chat` cookie), and the chat events of "/office", the staff side (whose connection
web.desk handles). Pushes (`chat.message`, `chat.started`, `chat.closed`) come from the
services through the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.blueprints import BlueprintSetupState
from flask_login import current_user
from flask_socketio import join_room

from hotline.errors import HotlineError, NotAuthenticated, PermissionDenied
from hotline.extensions import socketio
from hotline.intake import chat
from hotline.models import ChatSession, Role, User
from hotline.realtime import CITIZEN_NAMESPACE as CHAT
from hotline.realtime import STAFF_NAMESPACE as OFFICE
from web.chat import bp
from web.chat.views import current_chat_token
from web.sockets import Ack, acked, fields_of, reference_of, refuse, same_origin, unexpected

# Staff who answer chats; handlers and knowledge editors work elsewhere.
OFFICE_ROLES = frozenset({Role.AGENT, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})


# -- the citizen's widget -----------------------------------------------------------------


def _citizen_session() -> ChatSession:
    session = chat.session_for_token(current_chat_token())
    if session is None:
        raise NotAuthenticated("no chat session", "会话已失效，请重新发起咨询")
    return session


def chat_connect(auth: Any = None) -> None:
    if not same_origin():
        raise refuse(NotAuthenticated("cross-site connection", "不允许跨站连接"))
    try:
        session = _citizen_session()
    except HotlineError as exc:
        raise refuse(exc) from None
    join_room(f"chat:{chat.mark_seen(session)}")


@acked
def chat_send(data: Any = None) -> Ack:
    fields = fields_of(data)
    message = chat.post_citizen_message(
        _citizen_session(), fields.get("text"), client_id=fields.get("client_id")
    )
    return {"ok": True, "id": message.id}


@acked
def chat_history(data: Any = None) -> Ack:
    fields = fields_of(data if data is not None else {})
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


@acked
def chat_reply(data: Any = None) -> Ack:
    fields = fields_of(data)
    message = chat.post_agent_message(reference_of(fields), _staff(), fields.get("text"))
    return {"ok": True, "id": message.id}


@acked
def chat_close(data: Any = None) -> Ack:
    chat.close_chat(reference_of(fields_of(data)), _staff())
    return {"ok": True}


@acked
def office_chat_history(data: Any = None) -> Ack:
    fields = fields_of(data)
    messages = chat.office_history(reference_of(fields), _staff(), fields.get("since_id", 0))
    return {"ok": True, "messages": messages}


# Registered per app: the Socket.IO server is made anew by each `socketio.init_app`, and
# `@socketio.on` only reaches the server that exists at import time.
HANDLERS: tuple[tuple[str, str, Callable[..., Any]], ...] = (
    (CHAT, "connect", chat_connect),
    (CHAT, "chat.send", chat_send),
    (CHAT, "chat.history", chat_history),
    (CHAT, "chat.leave", chat_leave),
    (OFFICE, "chat.reply", chat_reply),
    (OFFICE, "chat.close", chat_close),
    (OFFICE, "chat.history", office_chat_history),
)


@bp.record_once
def _register(state: BlueprintSetupState) -> None:
    for namespace, event, handler in HANDLERS:
        socketio.on_event(event, handler, namespace=namespace)
    socketio.on_error(CHAT)(unexpected)  # "/office"'s is registered by web.desk
