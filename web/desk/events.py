"""The staff namespace "/office": who joins which rooms, and nothing missed.

Every push is an outbox row (hotline.outbox) relayed after commit, its row id the
event's `event_id`, rising. Rooms decide who hears what:

- `office`: the hotline centre (agents, dispatchers, supervisors, admins): every
  ticket's changes, new chats and callbacks;
- `supervisors`: supervisors and admins (alerts);
- `unit:<code>`: a handling unit's handlers: only tickets the unit holds;
- `user:<id>`: one person, on every screen they have open;
- `ticket:<reference>`: the hotline centre's screens with that ticket open (its
  events, chat lines included); a unit hears its tickets through its unit's room;
- `presence:<reference>`: everyone with the ticket open (who else, who is editing),
  after a visibility check.

After a reconnect a client sends `events.since` with the last `event_id` it saw and
gets every event since, of the rooms it is in, oldest first (clients drop an id they
already have: an event may arrive both live and in the replay).

Collision control (hotline.tickets.locks): `ticket.watch` shows the user to everyone
with the ticket open (`ticket.presence`: viewers, and who is editing); `ticket.lock`
takes the short edit lock (renewed by sending it again while typing) or is refused
with the holder's name; `ticket.unlock`, `ticket.unwatch` and a disconnect give it
back. While a lock is held, anyone else's lifecycle action on the ticket is a 409.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, request
from flask.blueprints import BlueprintSetupState
from flask_login import current_user
from flask_socketio import join_room, leave_room, rooms
from sqlalchemy import select

from hotline.errors import (
    Conflict,
    HotlineError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from hotline.extensions import db, socketio
from hotline.models import OutboxItem, Role, Ticket, User
from hotline.realtime import STAFF_NAMESPACE as OFFICE
from hotline.tickets import locks
from hotline.tickets.access import require_view
from web.desk import bp
from web.sockets import Ack, acked, fields_of, reference_of, refuse, same_origin, unexpected

CENTRE_ROLES = frozenset({Role.AGENT, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
SUPERVISING_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
REPLAY_LIMIT = 500
_SHARED_ROOMS = ("office", "supervisors", "unit:", "user:", "ticket:", "presence:")


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
    if isinstance(since, bool) or not isinstance(since, int) or not 0 <= since < 2**62:
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


def _visible_reference(data: Any) -> tuple[User, str]:
    user = _staff()
    reference = reference_of(fields_of(data))
    require_view(user, _ticket(reference))
    return user, reference


def _announce(reference: str) -> dict[str, Any]:
    """Tell everyone with the ticket open who else has it open and who is editing."""
    now = locks.presence(reference)
    socketio.emit("ticket.presence", now, to=f"presence:{reference}", namespace=OFFICE)
    return now


@acked
def ticket_watch(data: Any = None) -> Ack:
    """Open a ticket on screen (if the user may see it): hear its events, and be shown
    to the others who have it open."""
    user, reference = _visible_reference(data)
    joined = [f"presence:{reference}"]
    if user.role in CENTRE_ROLES:  # a unit hears its tickets through its unit's room
        joined.append(f"ticket:{reference}")
    for room in joined:
        join_room(room)
    locks.open_on(reference, user, request.sid)
    presence = _announce(reference)
    return {"ok": True, "rooms": joined, "me": user.id, "presence": presence}


@acked
def ticket_unwatch(data: Any = None) -> Ack:
    _staff()
    reference = reference_of(fields_of(data))
    for room in (f"ticket:{reference}", f"presence:{reference}"):
        leave_room(room)
    locks.give_back(reference, request.sid)
    locks.closed_on(reference, request.sid)
    _announce(reference)
    return {"ok": True}


@acked
def ticket_lock(data: Any = None) -> Ack:
    """Take (or renew, while typing) the edit lock; refused with the holder's name."""
    user, reference = _visible_reference(data)
    taken, holder = locks.take(reference, user, request.sid)
    if not taken:
        refused = Conflict(
            f"ticket {reference} is being edited by {holder.name}",
            f"工单 {reference} 正由 {holder.name} 编辑",
            editor=holder.name,
        )
        return {"ok": False, "error": refused.to_dict(), "editor": holder.public()}
    presence = _announce(reference)
    seconds = float(current_app.config["TICKET_LOCK_SECONDS"])
    return {"ok": True, "editor": holder.public(), "seconds": seconds, "presence": presence}


@acked
def ticket_unlock(data: Any = None) -> Ack:
    _staff()
    reference = reference_of(fields_of(data))
    released = locks.give_back(reference, request.sid)
    _announce(reference)
    return {"ok": True, "released": released}


def office_disconnect(reason: Any = None) -> None:
    """A screen went away: its locks are given back and its tickets closed."""
    watched = [r.split(":", 1)[1] for r in rooms(namespace=OFFICE) if r.startswith("presence:")]
    for reference in locks.forget_socket(request.sid, watched):
        _announce(reference)


# Registered per app (see web.chat.events for why).
HANDLERS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("connect", office_connect),
    ("events.since", events_since),
    ("ticket.watch", ticket_watch),
    ("ticket.unwatch", ticket_unwatch),
    ("ticket.lock", ticket_lock),
    ("ticket.unlock", ticket_unlock),
    ("disconnect", office_disconnect),
)


@bp.record_once
def _register(state: BlueprintSetupState) -> None:
    for event, handler in HANDLERS:
        socketio.on_event(event, handler, namespace=OFFICE)
    socketio.on_error(OFFICE)(unexpected)
