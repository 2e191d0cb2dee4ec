"""Web chat (在线咨询): a citizen's conversation with the agents, held on a ticket (channel chat).

The browser holds a random token (cookie); only its SHA-256 is stored. Every line is a
`Message` on the ticket and an event in the log, and reaches the other side through the
outbox after commit: rooms `chat:<reference>` (the citizen) and `office` /
`ticket:<reference>` (the agents).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict

from flask import current_app
from sqlalchemy import func, select

from hotline.audit import record_event
from hotline.errors import Conflict, HotlineError, InvalidInput, NotFound, PermissionDenied
from hotline.extensions import db
from hotline.intake.raw import process, processor, store_inbound
from hotline.models import ChatSession, Message, Role, Ticket, User, utcnow
from hotline.models.enums import Channel, MessageDirection, MessageStatus
from hotline.outbox import enqueue_on_commit, notify_on_commit
from hotline.tickets.intake import NewTicket, normalise_phone, open_ticket

MAX_TEXT = 2000
MAX_NAME = 64
MESSAGES_PER_MINUTE = 20
HISTORY_LIMIT = 500
# Agents, dispatchers and admins talk to citizens; supervisors may only watch.
REPLY_ROLES = frozenset({Role.AGENT, Role.DISPATCHER, Role.ADMIN})
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,128}")


class RateLimited(HotlineError):
    """Too many chat lines in a minute (429); the widget tells the citizen to slow down."""

    status = 429
    code = "rate_limited"


class ChatMessagePayload(TypedDict):
    """`chat.message` as the citizen's widget receives it."""

    reference: str
    id: int
    direction: str  # inbound: from the citizen; outbound: from an agent
    text: str
    at: str


class OfficeChatMessagePayload(ChatMessagePayload):
    """`chat.message` as the agents receive it: who on the office side wrote it."""

    author_id: int | None
    author_name: str | None


class ChatStartedPayload(TypedDict):
    reference: str
    title: str
    at: str


class ChatClosedPayload(TypedDict):
    reference: str
    closed_by: str  # citizen | agent
    at: str


@dataclass(frozen=True)
class StartedChat:
    """A new chat; `token` goes to the browser once and is never stored."""

    token: str
    session: ChatSession
    ticket: Ticket


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_for_token(token: str | None) -> ChatSession | None:
    """The chat a browser's token belongs to (open or closed), or None."""
    if not token or not _TOKEN.fullmatch(token):
        return None
    return db.session.scalar(select(ChatSession).where(ChatSession.token_hash == token_hash(token)))


@dataclass(frozen=True)
class Conversation:
    """What the citizen's page shows: the reference, whether it ended, every line."""

    reference: str
    closed: bool
    messages: list[ChatMessagePayload]


def conversation_for_token(token: str | None) -> Conversation | None:
    session = session_for_token(token)
    if session is None:
        return None
    ticket = _ticket_of(session)
    return Conversation(
        reference=ticket.reference,
        closed=session.closed_at is not None,
        messages=chat_history(ticket.id),
    )


def check_text(text: Any, field: str = "text") -> str:
    """A chat line: text, not blank, at most `MAX_TEXT` characters (422 otherwise)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("message is empty", "消息内容不能为空", field=field)
    line: str = text.strip()
    if len(line) > MAX_TEXT:
        raise InvalidInput(
            f"message is longer than {MAX_TEXT} characters",
            f"消息不能超过 {MAX_TEXT} 个字",
            field=field,
            max_length=MAX_TEXT,
        )
    return line


def start_chat(content: Any, *, phone: str | None = None, name: str | None = None) -> StartedChat:
    """Open a chat: a ticket (channel chat, consult, general) with the first line on it.

    The request is stored raw first (like every public intake), so a failure after
    that is replayed instead of lost; the replay finds the same ticket and session.
    """
    text = check_text(content, "content")
    phone = (phone or "").strip() or None
    name = (name or "").strip() or None
    if phone is not None:
        phone = normalise_phone(phone, current_app.config["DEFAULT_REGION"])
    if name is not None and len(name) > MAX_NAME:
        raise InvalidInput("name too long", f"姓名不能超过 {MAX_NAME} 个字", field="name")
    token = secrets.token_urlsafe(32)
    digest = token_hash(token)
    row, _ = store_inbound(
        "chat",
        {"token_hash": digest, "content": text, "phone": phone, "name": name},
        dedupe_key=f"chat:{digest}",
    )
    ticket = process(row)
    session = db.session.scalar(select(ChatSession).where(ChatSession.token_hash == digest))
    assert ticket is not None and session is not None  # the processor made both
    return StartedChat(token=token, session=session, ticket=ticket)


@processor("chat")
def _open_chat(payload: dict[str, Any]) -> Ticket:
    """Stored chat start -> ticket + session + first message; safe to run again."""
    digest = payload["token_hash"]
    ticket, _ = open_ticket(
        NewTicket(
            channel=Channel.CHAT,
            type="consult",
            urgency="general",
            content=payload["content"],
            phone=payload.get("phone"),
            name=payload.get("name"),
            external_id=f"chat:{digest[:32]}",
        ),
        None,
    )
    if db.session.scalar(select(ChatSession.id).where(ChatSession.token_hash == digest)):
        return ticket
    db.session.add(ChatSession(token_hash=digest, ticket_id=ticket.id, last_seen_at=utcnow()))
    first = Message(
        ticket_id=ticket.id,
        direction=MessageDirection.INBOUND,
        channel=Channel.CHAT,
        body=payload["content"],
        status=MessageStatus.RECEIVED,
        kind="chat",
        at=ticket.received_at,
    )
    db.session.add(first)
    db.session.flush()
    started: ChatStartedPayload = {
        "reference": ticket.reference,
        "title": ticket.title,
        "at": _iso(ticket.received_at),
    }
    notify_on_commit("chat.started", dict(started), rooms=["office"], ticket_id=ticket.id)
    enqueue_on_commit("assign_waiting", ticket_id=ticket.id)
    _push_message(ticket, first, None)
    return ticket  # raw.process marks the stored request done and commits


def post_citizen_message(
    session: ChatSession, text: Any, *, client_id: str | None = None
) -> Message:
    """Add the citizen's line to the chat; a repeated `client_id` (a retry) returns the first."""
    text = check_text(text)
    ticket = _ticket_of(session)
    _require_open(session)
    external_sid = None
    if client_id is not None:
        if not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
            raise InvalidInput("bad client_id", "消息编号无效", field="client_id")
        external_sid = f"chat:{session.id}:{client_id}"
        earlier = db.session.scalar(select(Message).where(Message.external_sid == external_sid))
        if earlier is not None:
            return earlier
    now = utcnow()
    limit = int(current_app.config.get("CHAT_MESSAGES_PER_MINUTE", MESSAGES_PER_MINUTE))
    recent = db.session.scalar(
        select(func.count(Message.id)).where(
            Message.ticket_id == ticket.id,
            Message.channel == Channel.CHAT,
            Message.direction == MessageDirection.INBOUND,
            Message.at > now - timedelta(minutes=1),
        )
    )
    if (recent or 0) >= limit:
        raise RateLimited(
            f"more than {limit} messages a minute",
            "发送过于频繁，请稍后再试",
            per_minute=limit,
        )
    message = Message(
        ticket_id=ticket.id,
        direction=MessageDirection.INBOUND,
        channel=Channel.CHAT,
        body=text,
        status=MessageStatus.RECEIVED,
        kind="chat",
        external_sid=external_sid,
        at=now,
    )
    db.session.add(message)
    session.last_seen_at = now
    db.session.flush()
    _record(ticket, "chat_message", None, message)
    _push_message(ticket, message, None)
    db.session.commit()
    return message


def post_agent_message(reference: str, agent: User, text: Any) -> Message:
    """An agent's answer in a citizen's open chat; the first agent to answer takes the chat."""
    _require_replier(agent)
    text = check_text(text)
    ticket, session = _open_chat_for(reference)
    now = utcnow()
    if session.agent_id is None:
        session.agent_id = agent.id
    message = Message(
        ticket_id=ticket.id,
        direction=MessageDirection.OUTBOUND,
        channel=Channel.CHAT,
        body=text,
        status=MessageStatus.SENT,
        kind="chat",
        author_id=agent.id,
        at=now,
        sent_at=now,
    )
    db.session.add(message)
    db.session.flush()
    _record(ticket, "chat_reply", agent, message)
    _push_message(ticket, message, agent)
    db.session.commit()
    return message


def close_chat(reference: str, actor: User) -> ChatSession:
    """An agent ends the chat; the ticket itself goes on through its lifecycle."""
    _require_replier(actor)
    ticket, session = _open_chat_for(reference)
    _close(ticket, session, actor)
    return session


def leave_chat(session: ChatSession) -> ChatSession:
    """The citizen ends the chat from the widget; ending it twice changes nothing."""
    if session.closed_at is None:
        _close(_ticket_of(session), session, None)
    return session


def mark_seen(session: ChatSession) -> str:
    """The citizen's widget (re)connected; returns the ticket reference (the chat's room)."""
    reference = _ticket_of(session).reference
    session.last_seen_at = utcnow()
    db.session.commit()
    return reference


def chat_history(
    ticket_id: int, since_id: Any = 0, limit: int = HISTORY_LIMIT
) -> list[ChatMessagePayload]:
    """The chat lines after `since_id` (what a reconnecting client missed), oldest first."""
    if isinstance(since_id, bool) or not isinstance(since_id, int) or since_id < 0:
        raise InvalidInput("since_id must be a message id", "since_id 无效", field="since_id")
    reference = db.session.scalar(select(Ticket.reference).where(Ticket.id == ticket_id))
    if reference is None:
        raise NotFound(f"no ticket {ticket_id}", "工单不存在")
    rows = db.session.scalars(
        select(Message)
        .where(
            Message.ticket_id == ticket_id,
            Message.channel == Channel.CHAT,
            Message.id > since_id,
        )
        .order_by(Message.id)
        .limit(limit)
    ).all()
    return [_citizen_payload(reference, m) for m in rows]


def office_history(reference: str, viewer: User, since_id: Any = 0) -> list[ChatMessagePayload]:
    """The chat lines of a ticket for the office side (agents, dispatchers, supervisors)."""
    if viewer.role not in REPLY_ROLES | {Role.SUPERVISOR}:
        raise PermissionDenied("office staff only", "仅话务中心人员可以查看在线咨询")
    ticket_id = db.session.scalar(select(Ticket.id).where(Ticket.reference == reference))
    if ticket_id is None:
        raise NotFound(f"no ticket {reference}", f"工单 {reference} 不存在")
    return chat_history(ticket_id, since_id)


# -- inside the services ------------------------------------------------------------------


def _ticket_of(session: ChatSession) -> Ticket:
    ticket = db.session.get(Ticket, session.ticket_id)
    assert ticket is not None  # a foreign key
    return ticket


def _require_open(session: ChatSession) -> None:
    if session.closed_at is not None:
        raise Conflict("the chat has ended", "本次在线咨询已结束，如需继续请重新发起咨询")


def _require_replier(actor: User) -> None:
    if actor.role not in REPLY_ROLES:
        raise PermissionDenied(
            "only agents, dispatchers and admins take part in chats",
            "仅话务员、派单员和管理员可以参与在线咨询",
        )


def _open_chat_for(reference: str) -> tuple[Ticket, ChatSession]:
    """The chat ticket and its open session; the ticket row is locked (one writer at a time)."""
    ticket = db.session.scalar(
        select(Ticket).where(Ticket.reference == reference).with_for_update()
    )
    if ticket is None:
        raise NotFound(f"no ticket {reference}", f"工单 {reference} 不存在")
    if ticket.channel != Channel.CHAT:
        raise InvalidInput(
            f"ticket {reference} did not come from the web chat",
            f"工单 {reference} 不是在线咨询工单",
            field="reference",
        )
    session = db.session.scalar(
        select(ChatSession)
        .where(ChatSession.ticket_id == ticket.id, ChatSession.closed_at.is_(None))
        .order_by(ChatSession.id.desc())
        .limit(1)
    )
    if session is None:
        raise Conflict(f"the chat of {reference} has ended", "该在线咨询已结束")
    return ticket, session


def _close(ticket: Ticket, session: ChatSession, actor: User | None) -> None:
    now = utcnow()
    session.closed_at = now
    record_event(
        "chat_close",
        actor=actor,
        ticket=ticket,
        from_status=ticket.status,
        to_status=ticket.status,
        department_id=actor.department_id if actor is not None else None,
        data={"closed_by": "agent" if actor is not None else "citizen"},
    )
    closed: ChatClosedPayload = {
        "reference": ticket.reference,
        "closed_by": "agent" if actor is not None else "citizen",
        "at": _iso(now),
    }
    notify_on_commit("chat.closed", dict(closed), rooms=_rooms(ticket), ticket_id=ticket.id)
    db.session.commit()


def _record(ticket: Ticket, action: str, actor: User | None, message: Message) -> None:
    # The text stays on the message; the log keeps who, when and which message.
    record_event(
        action,
        actor=actor,
        ticket=ticket,
        from_status=ticket.status,
        to_status=ticket.status,
        department_id=actor.department_id if actor is not None else None,
        data={"message_id": message.id, "direction": str(message.direction)},
    )


def _rooms(ticket: Ticket) -> list[str]:
    return [f"chat:{ticket.reference}", "office", f"ticket:{ticket.reference}"]


def _push_message(ticket: Ticket, message: Message, agent: User | None) -> None:
    # The citizen's room gets no staff identity; the office rooms get who wrote it.
    citizen = _citizen_payload(ticket.reference, message)
    office: OfficeChatMessagePayload = {
        **citizen,
        "author_id": agent.id if agent is not None else None,
        "author_name": agent.display_name if agent is not None else None,
    }
    chat_room, *office_rooms = _rooms(ticket)
    notify_on_commit("chat.message", dict(citizen), rooms=[chat_room], ticket_id=ticket.id)
    notify_on_commit("chat.message", dict(office), rooms=office_rooms, ticket_id=ticket.id)


def _citizen_payload(reference: str, message: Message) -> ChatMessagePayload:
    return {
        "reference": reference,
        "id": message.id,
        "direction": str(message.direction),
        "text": message.body,
        "at": _iso(message.at),
    }


def _iso(at: datetime) -> str:
    return at.isoformat()
