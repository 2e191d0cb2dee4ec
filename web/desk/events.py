"""The staff namespace "/office": who joins which rooms, and nothing missed.

Every push is an outbox row (hotline.outbox) relayed after commit, its row id the
event's `event_id`, rising. Rooms decide who hears what:

- `office`: the hotline centre (agents, dispatchers, supervisors, admins): every
  ticket's changes, new chats and callbacks;
- `supervisors`: supervisors and admins (alerts);
- `unit:<code>`: a handling unit's handlers: only tickets the unit holds;
- `user:<id>`: one person, on every screen they have open;
- `ticket:<reference>`: everyone with that ticket open, after a visibility check.

After a reconnect a client sends `events.since` with the last `event_id` it saw and
gets every event since, of the rooms it is in, oldest first (clients drop an id they
already have: an event may arrive both live and in the replay).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.blueprints import BlueprintSetupState
from flask_login import current_user
from flask_socketio import join_room, leave_room, rooms
from sqlalchemy import select

from hotline.errors import HotlineError, InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from hotline.extensions import db, socketio
from hotline.models import OutboxItem, Role, Ticket, User
from hotline.realtime import STAFF_NAMESPACE as OFFICE
from hotline.tickets.access import require_view
from web.desk import bp
from web.sockets import Ack, acked, fields_of, reference_of, refuse, same_origin, unexpected

CENTRE_ROLES = frozenset({Role.AGENT, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
SUPERVISING_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
REPLAY_LIMIT = 500
_SHARED_ROOMS = ("office", "supervisors", "unit:", "user:", "ticket:")


def _staff() -> User:
    """The signed-in user of this socket: hotline centre staff, or a unit's handler."""
    if not current_user.is_authenticated:
        raise NotAuthenticated("sign in first", "请先登录")
    user: User = current_user._get_current_object()
    if user.role in CENTRE_ROLES:
        return user
    if user.role == Role.HANDLER and user.department is not None:
        return user
    raise PermissionDenied(
        "hotline staff and handling units only", "仅热线工作人员和承办单位可以使用"
    )


def staff_rooms(user: User) -> list[str]:
    """The rooms a user's screens join on connecting."""
    joined = [f"user:{user.id}"]
    if user.role in CENTRE_ROLES:
        joined.append("office")
    if user.role in SUPERVISING_ROLES:
        joined.append("supervisors")
    if user.role == Role.HANDLER and user.department is not None:
        joined.append(f"unit:{user.department.code}")
    return joined


def office_connect(auth: Any = None) -> None:
    if not same_origin():
        raise refuse(NotAuthenticated("cross-site connection", "不允许跨站连接"))
    try:
        user = _staff()
    except HotlineError as exc:
        raise refuse(exc) from None
    for room in staff_rooms(user):
        join_room(room)


def _joined() -> list[str]:
    """This socket's shared rooms (not the private room Socket.IO gives each socket)."""
    return sorted(r for r in rooms(namespace=OFFICE) if r.startswith(_SHARED_ROOMS))


@acked
def events_since(data: Any = None) -> Ack:
    """Every event of this socket's rooms after `since` (an `event_id`), oldest first, at
    most REPLAY_LIMIT; `more` says to ask again from `last_id`."""
    _staff()
    since = fields_of(data if data is not None else {}).get("since", 0)
    if isinstance(since, bool) or not isinstance(since, int) or since < 0:
        raise InvalidInput(
            "since must be a non-negative event id", "since 须为非负的事件编号", field="since"
        )
    rows = db.session.scalars(
        select(OutboxItem)
        .where(OutboxItem.kind == "push", OutboxItem.id > since, OutboxItem.room.in_(_joined()))
        .order_by(OutboxItem.id)
        .limit(REPLAY_LIMIT + 1)
    ).all()
    events = [
        {"name": row.name, "room": row.room, **row.payload, "event_id": row.id}
        for row in rows[:REPLAY_LIMIT]
    ]
    last = events[-1]["event_id"] if events else since
    return {"ok": True, "events": events, "last_id": last, "more": len(rows) > REPLAY_LIMIT}


def _ticket(reference: str) -> Ticket:
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    if ticket is None:
        raise NotFound(f"no ticket {reference}", f"工单 {reference} 不存在")
    return ticket


@acked
def ticket_watch(data: Any = None) -> Ack:
    """Hear a ticket's events while it is open on screen (if the user may see it)."""
    user = _staff()
    reference = reference_of(fields_of(data))
    require_view(user, _ticket(reference))
    join_room(f"ticket:{reference}")
    return {"ok": True, "room": f"ticket:{reference}"}


@acked
def ticket_unwatch(data: Any = None) -> Ack:
    _staff()
    reference = reference_of(fields_of(data))
    leave_room(f"ticket:{reference}")
    return {"ok": True}


# Registered per app (see web.chat.events for why).
HANDLERS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("connect", office_connect),
    ("events.since", events_since),
    ("ticket.watch", ticket_watch),
    ("ticket.unwatch", ticket_unwatch),
)


@bp.record_once
def _register(state: BlueprintSetupState) -> None:
    for event, handler in HANDLERS:
        socketio.on_event(event, handler, namespace=OFFICE)
    socketio.on_error(OFFICE)(unexpected)
