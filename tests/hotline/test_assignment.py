"""Fair assignment on real Redis: waiting chats and callbacks go to available agents,
oldest first, least loaded first, within capacity; the backlog drains when an agent
comes online; nothing is given twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from hotline import assignment, console
from hotline.auth import add_user
from hotline.errors import Conflict
from hotline.extensions import db
from hotline.models import CallbackRequest, ChatSession, Ticket, User, utcnow
from tests.api_helpers import new_ticket


def callbacks(count: int) -> list[int]:
    now = utcnow()
    tasks = [
        CallbackRequest(
            phone_hash=f"h{n}",
            phone=f"+86138001380{n:02d}",
            requested_at=now - timedelta(minutes=30 - n),
        )
        for n in range(count)
    ]
    db.session.add_all(tasks)
    db.session.commit()
    return [t.id for t in tasks]


def chats(staff: Any, count: int) -> list[int]:
    now = utcnow()
    sessions = []
    for n in range(count):
        reference = new_ticket(staff, channel="chat", content=f"在线咨询第{n}个问题")
        ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
        sessions.append(
            ChatSession(
                token_hash=f"t{n}", ticket_id=ticket.id, started_at=now - timedelta(minutes=20 - n)
            )
        )
    db.session.add_all(sessions)
    db.session.commit()
    return [s.id for s in sessions]


def agent(name: str, role: str = "agent") -> User:
    user = add_user(name, role)
    db.session.commit()
    return user


def holder(callback_id: int) -> int | None:
    db.session.expire_all()
    return db.session.get(CallbackRequest, callback_id).assigned_to_id


def test_the_backlog_drains_oldest_first_as_agents_come_online(app: Flask) -> None:
    first, second, third = callbacks(3)
    li, chen = agent("li"), agent("chen")
    assert assignment.drain() == []  # nobody available: everything waits
    console.set_state(li, "available")
    assert holder(first) == li.id and holder(second) is None  # one callback at a time
    console.set_state(chen, "available")
    assert holder(second) == chen.id and holder(third) is None
    assignment.finish_callback(first, li)  # li called back: the next one is li's
    assert holder(third) == li.id
    done = db.session.get(CallbackRequest, first)
    assert done.status == "done" and done.handled_at is not None


def test_chats_go_to_the_least_loaded_agent_within_capacity(app: Flask, staff: Any) -> None:
    sessions = chats(staff, 5)
    li = agent("li")
    console.set_state(li, "available")  # capacity 3 chats
    db.session.expire_all()
    taken = [db.session.get(ChatSession, s).agent_id for s in sessions]
    assert taken == [li.id, li.id, li.id, None, None]
    chen = agent("chen")
    console.set_state(chen, "available")
    db.session.expire_all()
    assert [db.session.get(ChatSession, s).agent_id for s in sessions[3:]] == [chen.id, chen.id]


def test_only_available_agents_and_dispatchers_receive_work(app: Flask) -> None:
    [task] = callbacks(1)
    away, boss = agent("away"), agent("boss", "supervisor")
    console.set_state(away, "away")
    console.set_state(boss, "available")
    assert assignment.drain() == [] and holder(task) is None


def test_one_item_is_never_given_twice(app: Flask) -> None:
    [task] = callbacks(1)
    li, chen = agent("li"), agent("chen")
    item = assignment.Item("callback", task, utcnow(), None)
    assert assignment._take(item, li.id) is True
    assert assignment._take(item, chen.id) is False  # a second drain lost the race
    db.session.commit()
    assert holder(task) == li.id


def test_the_arrival_job_assigns_and_only_the_holder_finishes(app: Flask) -> None:
    from hotline.jobs import assign_waiting

    [task] = callbacks(1)
    li, chen = agent("li"), agent("chen")
    import json

    from hotline.queue import redis_connection

    # li is available but the callback arrived after: the job gives it out.
    state = {"user_id": li.id, "name": "li", "state": "available", "since": "2026-01-01"}
    redis_connection().hset("agent-states", str(li.id), json.dumps(state))
    assert assign_waiting() == 1 and holder(task) == li.id
    with pytest.raises(Conflict):
        assignment.finish_callback(task, chen)
