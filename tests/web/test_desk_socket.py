"""The staff namespace "/office" (web.desk): rooms by role and unit, watching a ticket,
and the replay of missed events after a reconnect, with the Flask-SocketIO test client.
Pushes go through the outbox and `relay_pending`, as in production."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api_helpers import new_ticket
from tests.web.socket_client import PageClient, Socket, login, relay

OFFICE = "/office"


@pytest.fixture
def desk(app: Flask, staff: Any) -> Any:
    """The API users of `staff`, and page clients whose sockets share their login."""
    app.test_client_class = PageClient
    return staff


def connect(app: Flask, client: FlaskClient) -> Socket:
    socket = Socket(app, OFFICE, client)
    assert socket.connected
    return socket


def dispatched(staff: Any, department: str, content: str = "小区门口路灯坏了") -> str:
    reference = new_ticket(staff, content=content)
    response = staff.act("agent", reference, "dispatch", {"department": department})
    assert response.status_code == 200, response.json
    return reference


def references(socket: Socket) -> set[str]:
    return {event["reference"] for event in socket.received("ticket.updated")}


def test_a_unit_hears_only_the_tickets_it_holds(app: Flask, desk: Any) -> None:
    agent = connect(app, login(app, "a1", "agent"))
    pjq = connect(app, login(app, "h-pjq", "handler", "PJQ"))
    scjg = connect(app, login(app, "h-scjg", "handler", "SCJGJ"))
    mine = dispatched(desk, "PJQ")
    theirs = dispatched(desk, "SCJGJ", "超市卖过期食品")
    assert relay() > 0
    assert references(pjq) == {mine}
    assert references(scjg) == {theirs}
    assert references(agent) == {mine, theirs}


def test_watching_a_ticket_needs_the_right_to_see_it(app: Flask, desk: Any) -> None:
    mine = dispatched(desk, "PJQ")
    theirs = dispatched(desk, "SCJGJ", "超市卖过期食品")
    relay()
    pjq = connect(app, login(app, "h-pjq", "handler", "PJQ"))
    watched = pjq.call("ticket.watch", {"reference": mine})
    assert watched["ok"] is True and watched["rooms"] == [f"presence:{mine}"]
    refused = pjq.call("ticket.watch", {"reference": theirs})
    assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
    assert refused["error"]["message_zh"]
    assert pjq.call("ticket.watch", {"reference": "NOPE"})["error"]["code"] == "not_found"
    assert pjq.call("ticket.watch", {})["error"]["code"] == "invalid_input"
    assert pjq.call("ticket.watch", "text")["error"]["code"] == "invalid_input"
    # A unit hears its ticket's events through its unit's room, never a ticket's room.
    assert desk.act("supervisor", mine, "urge", {"note": "请尽快处理"}).status_code == 200
    relay()
    events = pjq.call("events.since", {"since": 0})["events"]
    assert "urge" in {e.get("action") for e in events if e["reference"] == mine}
    assert {e["room"] for e in events} == {"unit:PJQ"}
    assert pjq.call("ticket.unwatch", {"reference": mine}) == {"ok": True}


def test_a_unit_never_hears_what_is_said_in_a_tickets_room(app: Flask, desk: Any) -> None:
    """Chat lines go to the ticket's room for the hotline centre; a unit with the ticket
    open hears none of them, live or replayed."""
    from hotline.extensions import db
    from hotline.outbox import notify_on_commit

    mine = dispatched(desk, "PJQ")
    relay()
    agent = connect(app, login(app, "a1", "agent"))
    pjq = connect(app, login(app, "h-pjq", "handler", "PJQ"))
    for socket in (agent, pjq):
        assert socket.call("ticket.watch", {"reference": mine})["ok"]
    line = {"reference": mine, "text": "我的身份证号是440703199001011234"}
    notify_on_commit("chat.message", line, rooms=[f"ticket:{mine}"])
    db.session.commit()
    relay()
    assert [m["text"] for m in agent.received("chat.message")] == [line["text"]]
    assert pjq.received("chat.message") == []
    replay = pjq.call("events.since", {"since": 0})["events"]
    assert all(e["name"] != "chat.message" for e in replay)


def test_a_reconnected_screen_gets_every_event_it_missed(app: Flask, desk: Any) -> None:
    page = login(app, "a1", "agent")
    agent = connect(app, page)
    first = dispatched(desk, "PJQ")
    relay()
    seen = agent.received("ticket.updated")
    assert seen and all(isinstance(e["event_id"], int) for e in seen)
    last = max(e["event_id"] for e in seen)
    agent.sio.disconnect(namespace=OFFICE)

    missed = dispatched(desk, "SCJGJ", "超市卖过期食品")  # while the console was away
    relay()
    again = connect(app, page)
    replay = again.call("events.since", {"since": last})
    assert replay["ok"] is True and replay["more"] is False
    ids = [e["event_id"] for e in replay["events"]]
    assert ids == sorted(ids) and all(i > last for i in ids)
    assert {e["reference"] for e in replay["events"]} == {missed}
    assert first not in {e["reference"] for e in replay["events"]}
    assert replay["last_id"] == ids[-1]
    assert again.call("events.since", {"since": replay["last_id"]})["events"] == []


def test_a_handler_replays_only_its_units_events(app: Flask, desk: Any) -> None:
    dispatched(desk, "SCJGJ", "超市卖过期食品")
    mine = dispatched(desk, "PJQ")
    relay()
    pjq = connect(app, login(app, "h-pjq", "handler", "PJQ"))
    replay = pjq.call("events.since", {"since": 0})
    assert replay["events"] and {e["reference"] for e in replay["events"]} == {mine}
    assert {e["room"] for e in replay["events"]} == {"unit:PJQ"}


def test_a_long_absence_is_replayed_in_pages(
    app: Flask, desk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import web.desk.events

    monkeypatch.setattr(web.desk.events, "REPLAY_LIMIT", 2)
    for n in range(3):
        dispatched(desk, "PJQ", f"路灯坏了第{n}盏")
    relay()
    agent = connect(app, login(app, "a1", "agent"))
    since, pages, ids = 0, 0, []
    while True:
        page = agent.call("events.since", {"since": since})
        ids += [e["event_id"] for e in page["events"]]
        since, pages = page["last_id"], pages + 1
        if not page["more"]:
            break
    assert pages >= 3 and ids == sorted(set(ids))


@pytest.mark.parametrize("since", [-1, "12", True, 1.5, 2**70])
def test_a_bad_event_id_is_refused_in_both_languages(app: Flask, desk: Any, since: Any) -> None:
    agent = connect(app, login(app, "a1", "agent"))
    refused = agent.call("events.since", {"since": since})
    assert refused["ok"] is False and refused["error"]["code"] == "invalid_input"
    assert refused["error"]["message"] and refused["error"]["message_zh"]


def test_editors_and_strangers_cannot_connect(app: Flask, desk: Any, client: FlaskClient) -> None:
    assert not Socket(app, OFFICE, login(app, "ed", "editor")).connected
    assert not Socket(app, OFFICE, client).connected
