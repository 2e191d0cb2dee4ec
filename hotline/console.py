"""The agent console's live queue and the agents' presence (坐席状态).

The queue is everything waiting for an agent, oldest first with how long it has
waited: calls in the voice queue, callback requests, and new tickets that arrived by
SMS, the online hall, a window, chat or a script and still wait to be handled.

Presence (available / busy / after-call work / away) is kept in Redis, shared by every
web process, and pushed to the hotline centre's room so supervisors see it change.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import select

from hotline import privacy
from hotline.errors import InvalidInput, ServiceUnavailable
from hotline.extensions import db
from hotline.models import CallbackRequest, CallRecord, Ticket, User, utcnow
from hotline.models.enums import Channel, TicketStatus
from hotline.queue import redis_connection
from hotline.tickets.access import FULL_IDENTITY

log = logging.getLogger(__name__)

AGENT_STATES = ("available", "busy", "after_call", "away")
QUEUE_LIMIT = 100
_STATES = "agent-states"
# Tickets that arrive without an agent on the line wait in the queue for one.
_UNATTENDED = (Channel.SMS, Channel.WEB, Channel.WINDOW, Channel.CHAT, Channel.OPEN311)


@dataclass
class Waiting:
    kind: str  # call | callback | ticket | chat | on_call
    since: datetime
    title: str
    caller: str | None  # full or masked by the viewer's role
    reference: str | None = None
    channel: str | None = None
    item_id: int | None = None
    call_sid: str | None = None


def _phone_for(user: User, phone: str | None) -> str | None:
    return phone if user.role in FULL_IDENTITY else privacy.mask_phone(phone)


def queue(user: User, *, now: datetime | None = None) -> list[Waiting]:
    """Everything waiting for an agent, oldest first (at most QUEUE_LIMIT)."""
    items: list[Waiting] = []
    calls = db.session.scalars(
        select(CallRecord)
        .where(CallRecord.status == "queued", CallRecord.answered_at.is_(None))
        .order_by(CallRecord.queued_at)
        .limit(QUEUE_LIMIT)
    )
    for call in calls:
        line = call.hotline.name if call.hotline else (call.dialled or "12345")
        since = call.queued_at or call.started_at
        items.append(Waiting("call", since, line, _phone_for(user, call.caller), item_id=call.id))
    callbacks = db.session.scalars(
        select(CallbackRequest)
        .where(CallbackRequest.status == "pending")
        .order_by(CallbackRequest.requested_at)
        .limit(QUEUE_LIMIT)
    )
    for task in callbacks:
        phone = _phone_for(user, task.phone)
        items.append(Waiting("callback", task.requested_at, "", phone, item_id=task.id))
    tickets = db.session.scalars(
        select(Ticket)
        .where(Ticket.status == TicketStatus.ACCEPTED, Ticket.channel.in_(_UNATTENDED))
        .order_by(Ticket.received_at)
        .limit(QUEUE_LIMIT)
    )
    for ticket in tickets:
        contact = ticket.contact.phone if ticket.contact else ticket.caller_phone_raw
        shown = None if ticket.confidential else contact
        items.append(
            Waiting(
                "ticket",
                ticket.received_at,
                ticket.title,
                _phone_for(user, shown),
                reference=ticket.reference,
                channel=ticket.channel,
            )
        )
    items.sort(key=lambda item: item.since)
    return items[:QUEUE_LIMIT]


def my_work(user: User) -> list[Waiting]:
    """What is the agent's own and not finished: the calls on their line (newest first),
    then what fair assignment gave them: open chats and callbacks to make, oldest first."""
    from hotline.models import ChatSession
    from hotline.screen_pop import answered_calls

    items: list[Waiting] = []
    for call in answered_calls(user):
        line = call.hotline.name if call.hotline else (call.dialled or "12345")
        since = call.answered_at or call.started_at
        items.append(Waiting("on_call", since, line, call.caller, call_sid=call.call_sid))
    for session, ticket in db.session.execute(
        select(ChatSession, Ticket)
        .join(Ticket, Ticket.id == ChatSession.ticket_id)
        .where(ChatSession.agent_id == user.id, ChatSession.closed_at.is_(None))
        .order_by(ChatSession.started_at)
    ):
        items.append(
            Waiting("chat", session.started_at, ticket.title, None, ticket.reference, "chat")
        )
    for task in db.session.scalars(
        select(CallbackRequest)
        .where(CallbackRequest.assigned_to_id == user.id, CallbackRequest.status == "assigned")
        .order_by(CallbackRequest.requested_at)
    ):
        phone = _phone_for(user, task.phone)
        items.append(Waiting("callback", task.requested_at, "", phone, item_id=task.id))
    return items


def set_state(user: User, state: str) -> dict[str, Any]:
    """Record the agent's state (and since when) and tell the hotline centre."""
    from hotline.extensions import socketio
    from hotline.realtime import STAFF_NAMESPACE

    if state not in AGENT_STATES:
        raise InvalidInput(
            f"state must be one of {', '.join(AGENT_STATES)}",
            "坐席状态须为 空闲、忙碌、话后处理、离开 之一",
            field="state",
        )
    record = {
        "user_id": user.id,
        "name": user.display_name or user.username,
        "state": state,
        "since": utcnow().isoformat(),
    }
    try:
        redis_connection().hset(_STATES, str(user.id), json.dumps(record))
    except (RedisError, RuntimeError) as exc:
        log.warning("agents' presence unavailable: %s", exc)
        raise ServiceUnavailable(
            "agents' states cannot be saved right now; try again shortly",
            "坐席状态暂时无法保存，请稍后再试",
        ) from None
    socketio.emit("agent.state", record, to="office", namespace=STAFF_NAMESPACE)
    if state == "available":
        from hotline.assignment import drain

        drain()  # the backlog drains to the agent, oldest first
    return record


def state_of(user: User) -> dict[str, Any] | None:
    """The agent's last state; None when not set or presence is unavailable."""
    try:
        raw = redis_connection().hget(_STATES, str(user.id))
    except (RedisError, RuntimeError) as exc:
        log.warning("agents' presence unavailable: %s", exc)
        return None
    return json.loads(raw) if raw else None


def all_states() -> list[dict[str, Any]]:
    """Every agent's last known state (for supervisors and the wallboard)."""
    try:
        rows = [json.loads(raw) for raw in redis_connection().hvals(_STATES)]
    except (RedisError, RuntimeError) as exc:
        log.warning("agents' presence unavailable: %s", exc)
        return []
    return sorted(rows, key=lambda r: r["name"])
