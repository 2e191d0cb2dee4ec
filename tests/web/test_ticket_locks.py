"""Collision control on real Redis: who has a ticket open, the short edit lock that a
second agent sees and cannot break, its release on unlock, disconnect or lapse."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from hotline.errors import Conflict
from hotline.extensions import db
from hotline.models import Ticket, User
from hotline.queue import redis_connection
from hotline.tickets import locks
from hotline.tickets.service import perform
from tests.api_helpers import new_ticket
from tests.web.socket_client import PageClient, Socket, login

OFFICE = "/office"


@pytest.fixture
def two(app: Flask, staff: Any) -> tuple[Socket, Socket, str]:
    app.test_client_class = PageClient
    reference = new_ticket(staff, content="小区门口路灯坏了")
    first = Socket(app, OFFICE, login(app, "li", "agent"))
    second = Socket(app, OFFICE, login(app, "chen", "agent"))
    assert first.connected and second.connected
    return first, second, reference


def presence(socket: Socket) -> dict[str, Any]:
    return socket.received("ticket.presence")[-1]


def user(name: str) -> User:
    found = db.session.scalar(select(User).where(User.username == name))
    assert found is not None
    return found


def test_each_sees_who_else_has_the_ticket_open(two: tuple[Socket, Socket, str]) -> None:
    first, second, reference = two
    assert first.call("ticket.watch", {"reference": reference})["ok"]
    opened = second.call("ticket.watch", {"reference": reference})
    assert [v["name"] for v in opened["presence"]["viewers"]] == ["li", "chen"]
    assert [v["name"] for v in presence(first)["viewers"]] == ["li", "chen"]
    second.call("ticket.unwatch", {"reference": reference})
    assert [v["name"] for v in presence(first)["viewers"]] == ["li"]


def test_the_second_agent_sees_the_lock_and_cannot_overwrite(
    two: tuple[Socket, Socket, str], staff: Any
) -> None:
    first, second, reference = two
    for socket in (first, second):
        socket.call("ticket.watch", {"reference": reference})
    taken = first.call("ticket.lock", {"reference": reference})
    assert taken["ok"] and taken["editor"]["name"] == "li"
    assert presence(second)["editor"]["name"] == "li"
    refused = second.call("ticket.lock", {"reference": reference})
    assert refused["ok"] is False and refused["error"]["code"] == "conflict"
    assert "li" in refused["error"]["message_zh"] and refused["editor"]["name"] == "li"
    # Nobody else's action goes through while the lock is held: not a script, not chen.
    blocked = staff.act("agent", reference, "dispatch", {"department": "PJQ"})
    assert blocked.status_code == 409 and "li" in blocked.json["error"]["message_zh"]
    with pytest.raises(Conflict):
        perform(reference, "dispatch", user("chen"), {"department": "PJQ"})
    db.session.rollback()
    assert first.call("ticket.lock", {"reference": reference})["ok"]  # renewing while typing
    perform(reference, "dispatch", user("li"), {"department": "PJQ"})  # the holder acts
    db.session.rollback()
    assert db.session.scalar(select(Ticket.status).where(Ticket.reference == reference)) == (
        "pending_sign"
    )


def test_unlock_and_disconnect_give_the_lock_back(two: tuple[Socket, Socket, str]) -> None:
    first, second, reference = two
    for socket in (first, second):
        socket.call("ticket.watch", {"reference": reference})
    first.call("ticket.lock", {"reference": reference})
    assert first.call("ticket.unlock", {"reference": reference}) == {"ok": True, "released": True}
    assert presence(second)["editor"] is None
    assert second.call("ticket.lock", {"reference": reference})["ok"]
    second.sio.disconnect(namespace=OFFICE)  # the screen goes away while editing
    assert locks.holder(reference) is None
    after = presence(first)
    assert after["editor"] is None and [v["name"] for v in after["viewers"]] == ["li"]
    assert first.call("ticket.lock", {"reference": reference})["ok"]


def test_the_same_persons_other_screen_takes_the_lock_over(app: Flask, staff: Any) -> None:
    app.test_client_class = PageClient
    reference = new_ticket(staff)
    page = login(app, "li", "agent")
    first, second = Socket(app, OFFICE, page), Socket(app, OFFICE, page)  # two tabs
    assert first.call("ticket.lock", {"reference": reference})["ok"]
    assert second.call("ticket.lock", {"reference": reference})["ok"]
    first.sio.disconnect(namespace=OFFICE)  # the old tab closing gives nothing back
    assert locks.holder(reference) is not None and locks.holder(reference).name == "li"


def test_a_lock_lapses_when_its_screen_stops_renewing(
    app: Flask, two: tuple[Socket, Socket, str]
) -> None:
    """The lock lives TICKET_LOCK_SECONDS in Redis, each renewal starting them again, and
    Redis forgets it by itself when they run out. Their end is brought forward here
    rather than waited for: a lifetime of a fraction of a second failed on a busy
    machine, where the second agent's first try came after it."""
    first, second, reference = two
    app.config["TICKET_LOCK_SECONDS"] = 20
    assert first.call("ticket.lock", {"reference": reference})["ok"]
    assert not second.call("ticket.lock", {"reference": reference})["ok"]
    redis, key = redis_connection(), locks._LOCK.format(reference)
    assert 0 < redis.pttl(key) <= 20_000
    redis.pexpire(key, 5_000)
    assert first.call("ticket.lock", {"reference": reference})["ok"]  # typing renews it
    assert redis.pttl(key) > 5_000
    redis.pexpire(key, 1)  # the screen stopped renewing, and its time ran out
    deadline = time.monotonic() + 5
    while locks.holder(reference) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert second.call("ticket.lock", {"reference": reference})["ok"]


def test_another_units_handler_can_neither_open_nor_lock(app: Flask, staff: Any) -> None:
    app.test_client_class = PageClient
    reference = new_ticket(staff, content="超市卖过期食品")
    staff.act("agent", reference, "dispatch", {"department": "SCJGJ"})
    handler = Socket(app, OFFICE, login(app, "h-pjq", "handler", "PJQ"))
    for event in ("ticket.watch", "ticket.lock"):
        refused = handler.call(event, {"reference": reference})
        assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
    assert locks.holder(reference) is None


def test_without_redis_nothing_is_locked_and_work_goes_on(
    app: Flask, staff: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = new_ticket(staff)
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:9/0")  # nothing listens
    monkeypatch.setattr(locks, "_unavailable_until", 0.0)
    assert locks.holder(reference) is None
    asked: list[str] = []
    real_connection = locks.redis_connection

    def counting() -> Any:
        asked.append("redis")
        return real_connection()

    monkeypatch.setattr(locks, "redis_connection", counting)
    response = staff.act("agent", reference, "dispatch", {"department": "PJQ"})  # still down
    assert response.status_code == 200
    assert asked == []  # the unreachable Redis is not asked again at every action
