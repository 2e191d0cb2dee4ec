"""Fair assignment (公平分配): waiting chats and callback requests go to the agents who
are available, oldest item first, each to the least loaded agent with room (then the
one available longest), never beyond ASSIGN_CAPACITY per kind. It runs when an agent
becomes available (the backlog drains, oldest first) and, through the outbox, when a
chat or a callback arrives (job `assign_waiting`). Each assignment is a conditional
UPDATE, so two processes draining at once never give one item to two agents; the
agent hears `assigned` in their own room.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update

from hotline.extensions import db
from hotline.models import CallbackRequest, ChatSession, Role, Ticket, User
from hotline.outbox import notify_on_commit

TAKERS = (Role.AGENT, Role.DISPATCHER)


@dataclass
class Item:
    kind: str  # chat | callback
    item_id: int
    since: datetime
    reference: str | None


def _waiting() -> list[Item]:
    chats = db.session.execute(
        select(ChatSession.id, ChatSession.started_at, Ticket.reference)
        .join(Ticket, Ticket.id == ChatSession.ticket_id)
        .where(ChatSession.closed_at.is_(None), ChatSession.agent_id.is_(None))
        .order_by(ChatSession.started_at)
    ).all()
    callbacks = db.session.execute(
        select(CallbackRequest.id, CallbackRequest.requested_at)
        .where(CallbackRequest.status == "pending", CallbackRequest.assigned_to_id.is_(None))
        .order_by(CallbackRequest.requested_at)
    ).all()
    items = [Item("chat", i, at, ref) for i, at, ref in chats]
    items += [Item("callback", i, at, None) for i, at in callbacks]
    return sorted(items, key=lambda item: (item.since, item.kind, item.item_id))


def _loads(agent_ids: list[int]) -> dict[int, dict[str, int]]:
    loads = {a: {"chat": 0, "callback": 0} for a in agent_ids}
    for agent_id, count in db.session.execute(
        select(ChatSession.agent_id, func.count(ChatSession.id))
        .where(ChatSession.closed_at.is_(None), ChatSession.agent_id.in_(agent_ids))
        .group_by(ChatSession.agent_id)
    ):
        loads[agent_id]["chat"] = count
    for agent_id, count in db.session.execute(
        select(CallbackRequest.assigned_to_id, func.count(CallbackRequest.id))
        .where(CallbackRequest.status == "assigned", CallbackRequest.assigned_to_id.in_(agent_ids))
        .group_by(CallbackRequest.assigned_to_id)
    ):
        loads[agent_id]["callback"] = count
    return loads


def _take(item: Item, agent_id: int) -> bool:
    """Give the item to the agent unless someone else got it first."""
    if item.kind == "chat":
        statement: Any = (
            update(ChatSession)
            .where(ChatSession.id == item.item_id, ChatSession.agent_id.is_(None))
            .values(agent_id=agent_id)
        )
    else:
        statement = (
            update(CallbackRequest)
            .where(CallbackRequest.id == item.item_id, CallbackRequest.status == "pending")
            .values(assigned_to_id=agent_id, status="assigned")
        )
    return bool(db.session.execute(statement).rowcount)


def drain() -> list[tuple[str, int, int]]:
    """Assign what waits to who is available; returns (kind, item id, agent id) given."""
    from hotline.console import all_states

    available = {s["user_id"]: s["since"] for s in all_states() if s["state"] == "available"}
    if not available:
        return []
    agents = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(User.id.in_(list(available)), User.role.in_(TAKERS))
        )
        if u.active
    }
    if not agents:
        return []
    capacity = current_app.config["ASSIGN_CAPACITY"]
    loads = _loads(list(agents))
    given: list[tuple[str, int, int]] = []
    for item in _waiting():
        room = [a for a in agents if loads[a][item.kind] < int(capacity[item.kind])]
        if not room:
            continue
        # The least loaded first, then the one available longest.
        agent_id = min(room, key=lambda a: (sum(loads[a].values()), available[a], a))
        if not _take(item, agent_id):
            continue
        loads[agent_id][item.kind] += 1
        given.append((item.kind, item.item_id, agent_id))
        assigned = {"kind": item.kind, "id": item.item_id, "reference": item.reference}
        notify_on_commit("assigned", assigned, rooms=[f"user:{agent_id}", "office"])
    db.session.commit()
    return given


def finish_callback(callback_id: int, agent: User) -> CallbackRequest:
    """The agent called back: the task is done and their capacity is free again."""
    from hotline.errors import Conflict, NotFound
    from hotline.models import utcnow

    task = db.session.get(CallbackRequest, callback_id)
    if task is None:
        raise NotFound(f"no callback request {callback_id}", f"回拨请求 {callback_id} 不存在")
    if task.status != "assigned" or task.assigned_to_id != agent.id:
        raise Conflict(
            f"callback request {callback_id} is not assigned to you",
            f"回拨请求 {callback_id} 未分配给您",
        )
    task.status = "done"
    task.handled_at = utcnow()
    db.session.commit()
    drain()  # room for the next one
    return task
