"""Web chat: the citizen starts a chat over HTTP and talks over Socket.IO ("/chat"); agents
answer on "/office". Pushes go through the outbox and `relay_pending`."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from hotline import create_app
from hotline.extensions import db
from hotline.models import (
    ChatSession,
    Event,
    InboundRequest,
    Message,
    OutboxItem,
    Ticket,
)
from tests.conftest import base_config
from tests.web.socket_client import PageClient, Socket, login, relay

FIRST = "请问社保卡丢失了怎么补办？"


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = PageClient
    return app.test_client()


def start(client: FlaskClient, content: str = FIRST, **extra: Any) -> str:
    response = client.post("/chat/start", json={"content": content, **extra})
    assert response.status_code == 201, response.json
    return str(response.json["reference"])


@pytest.fixture
def citizen(app: Flask, client: FlaskClient) -> Iterator[Socket]:
    start(client)
    socket = Socket(app, "/chat", client)
    assert socket.connected
    yield socket
    socket.sio.disconnect(namespace="/chat")


@pytest.fixture
def agent(app: Flask) -> Iterator[Socket]:
    socket = Socket(app, "/office", login(app, "agent1", "agent"))
    assert socket.connected
    yield socket
    socket.sio.disconnect(namespace="/office")


def the_ticket() -> Ticket:
    ticket = db.session.scalar(select(Ticket))
    assert ticket is not None
    return ticket


def chat_messages() -> list[Message]:
    return list(db.session.scalars(select(Message).order_by(Message.id)))


# -- starting a chat ----------------------------------------------------------------------


def test_start_opens_a_chat_ticket_with_the_first_message(client: FlaskClient) -> None:
    response = client.post(
        "/chat/start", json={"content": FIRST, "phone": "138 0013 8000", "name": "李女士"}
    )
    assert response.status_code == 201
    ticket = the_ticket()
    assert response.json == {"reference": ticket.reference, "status": "open"}
    assert (ticket.channel, ticket.type, ticket.urgency) == ("chat", "consult", "general")
    assert ticket.content == FIRST and ticket.caller_name == "李女士"
    assert ticket.contact is not None and ticket.contact.phone == "+8613800138000"
    [first] = chat_messages()
    assert (first.direction, first.channel, first.kind, first.body) == (
        "inbound",
        "chat",
        "chat",
        FIRST,
    )
    # The browser holds the token; the database only its SHA-256.
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("hotline_chat=")
    for flag in ("HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie
    token = client.get_cookie("hotline_chat")
    assert token is not None
    session = db.session.scalar(select(ChatSession))
    assert session is not None and session.ticket_id == ticket.id
    assert session.token_hash == hashlib.sha256(token.value.encode()).hexdigest()
    assert token.value not in str(db.session.scalar(select(InboundRequest.payload)))
    # Agents hear of the new chat once the transaction commits.
    pushes = {(o.name, o.room) for o in db.session.scalars(select(OutboxItem))}
    assert ("chat.started", "office") in pushes
    assert ("chat.message", f"chat:{ticket.reference}") in pushes


def test_the_form_starts_a_chat_and_the_page_shows_it(client: FlaskClient) -> None:
    response = client.post("/chat/start", data={"content": FIRST})
    assert response.status_code == 303 and response.headers["Location"].endswith("/chat")
    page = client.get("/chat")
    assert page.status_code == 200
    reference = the_ticket().reference
    assert reference in page.text and FIRST in page.text
    assert 'data-state="open"' in page.text
    assert "您的工单编号" in page.text and "发送" in page.text
    assert page.headers["Cache-Control"] == "no-store"


def test_the_page_serves_the_widget_from_this_site(client: FlaskClient) -> None:
    page = client.get("/chat")
    assert page.status_code == 200
    assert "开始咨询" in page.text and 'name="csrf_token"' in page.text
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page.text)
    assert scripts == ["/static/vendor/socket.io.min.js", "/static/js/chat.js"]
    assert "<script>" not in page.text  # no inline script: CSP allows 'self' only
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    vendored = client.get("/static/vendor/socket.io.min.js")
    assert vendored.status_code == 200
    assert vendored.data.startswith(b"/*!\n * Socket.IO v4.")
    vendored.close()
    license_note = client.get("/static/vendor/socket.io.LICENSE.txt")
    assert b"MIT License" in license_note.data
    license_note.close()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": "   "}, "content"),
        ({"content": "问" * 2001}, "content"),
        ({"content": FIRST, "phone": "12"}, "phone"),
    ],
)
def test_a_bad_start_is_refused_and_nothing_is_stored(
    client: FlaskClient, body: dict[str, str], field: str
) -> None:
    response = client.post("/chat/start", json=body)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_input"
    assert response.json["error"]["details"]["field"] == field
    assert "hotline_chat" not in response.headers.get("Set-Cookie", "")
    for model in (Ticket, InboundRequest, ChatSession, Message):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0


def test_starting_needs_the_pages_csrf_token(app: Flask, client: FlaskClient) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/chat/start", json={"content": FIRST}).status_code == 400
    assert client.post("/chat/start", data={"content": FIRST}).status_code == 400
    page = client.get("/chat").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    headers = {"X-CSRFToken": token.group(1)}
    assert client.post("/chat/start", json={"content": FIRST}, headers=headers).status_code == 201
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_a_json_start_must_be_an_object(client: FlaskClient) -> None:
    response = client.post("/chat/start", json=[FIRST])
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_input"


def test_an_unknown_cookie_just_offers_a_new_chat(client: FlaskClient) -> None:
    client.set_cookie("hotline_chat", "y" * 43)
    page = client.get("/chat")
    assert page.status_code == 200 and 'data-state="none"' in page.text


def test_a_bad_form_is_shown_again_with_a_chinese_message(client: FlaskClient) -> None:
    response = client.post("/chat/start", data={"content": FIRST, "phone": "12345"})
    assert response.status_code == 422
    assert "电话号码" in response.text and FIRST in response.text
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_starting_a_chat_is_rate_limited(app: Flask, _tmp_dir: Path) -> None:
    limited = create_app(
        {
            **base_config(_tmp_dir),
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            "PUBLIC_RATE_LIMIT": "2 per minute",
        }
    )
    limited.test_client_class = PageClient
    with limited.app_context():
        client = limited.test_client()
        codes = [client.post("/chat/start", json={"content": FIRST}).status_code for _ in range(3)]
        assert codes == [201, 201, 429]
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 2
        db.session.remove()
        db.engine.dispose()


# -- the conversation ---------------------------------------------------------------------


def test_a_citizen_line_is_stored_acked_and_reaches_the_agents(
    citizen: Socket, agent: Socket
) -> None:
    ack = citizen.call("chat.send", {"text": "补办需要带什么材料？"})
    assert ack["ok"] is True
    message = db.session.get(Message, ack["id"])
    assert message is not None
    ticket = the_ticket()
    assert (message.ticket_id, message.direction, message.channel, message.kind) == (
        ticket.id,
        "inbound",
        "chat",
        "chat",
    )
    assert message.body == "补办需要带什么材料？"
    event = db.session.scalar(select(Event).where(Event.action == "chat_message"))
    assert event is not None and event.ticket_id == ticket.id
    assert event.data == {"message_id": message.id, "direction": "inbound"}
    assert agent.received("chat.message") == []  # nothing before the relay
    relay()
    office = [m for m in agent.received("chat.message") if m["id"] == message.id]
    assert len(office) == 1
    assert office[0]["reference"] == ticket.reference
    assert office[0]["text"] == "补办需要带什么材料？" and office[0]["author_name"] is None
    assert isinstance(office[0]["event_id"], int)
    mine = [m for m in citizen.received("chat.message") if m["id"] == message.id]
    assert len(mine) == 1 and "author_name" not in mine[0]


def test_an_agent_reply_reaches_the_citizen(app: Flask, citizen: Socket, agent: Socket) -> None:
    reference = the_ticket().reference
    relay()
    citizen.received()
    agent.received()
    ack = agent.call("chat.reply", {"reference": reference, "text": "请携带身份证到社保窗口办理。"})
    assert ack["ok"] is True
    reply = db.session.get(Message, ack["id"])
    assert reply is not None and reply.direction == "outbound" and reply.channel == "chat"
    assert reply.author_id is not None and reply.status == "sent"
    session = db.session.scalar(select(ChatSession))
    assert session is not None and session.agent_id == reply.author_id
    relay()
    [seen] = citizen.received("chat.message")
    assert seen["id"] == reply.id and seen["direction"] == "outbound"
    assert seen["text"] == "请携带身份证到社保窗口办理。"
    assert "author_name" not in seen and "author_id" not in seen  # no staff identity
    office = agent.received("chat.message")
    assert [m["author_name"] for m in office if m["id"] == reply.id] == ["agent1"]


def test_history_returns_what_a_reconnecting_client_missed(citizen: Socket, agent: Socket) -> None:
    reference = the_ticket().reference
    first_id = citizen.call("chat.history", {"since_id": 0})["messages"][0]["id"]
    mine = citizen.call("chat.send", {"text": "第二句"})["id"]
    theirs = agent.call("chat.reply", {"reference": reference, "text": "您好"})["id"]
    everything = citizen.call("chat.history", {})
    assert [m["id"] for m in everything["messages"]] == [first_id, mine, theirs]
    missed = citizen.call("chat.history", {"since_id": mine})
    assert missed == {
        "ok": True,
        "messages": [
            {
                "reference": reference,
                "id": theirs,
                "direction": "outbound",
                "text": "您好",
                "at": missed["messages"][0]["at"],
            }
        ],
    }
    assert citizen.call("chat.history", {"since_id": "x"})["error"]["code"] == "invalid_input"
    office = agent.call("chat.history", {"reference": reference, "since_id": first_id})
    assert [m["id"] for m in office["messages"]] == [mine, theirs]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"text": "长" * 2001}, "invalid_input"),
        ({"text": "  "}, "invalid_input"),
        ({"text": 42}, "invalid_input"),
        ("just text", "invalid_input"),
        ({"text": "好", "client_id": "<script>"}, "invalid_input"),
    ],
)
def test_a_bad_line_is_refused_with_an_error_ack(citizen: Socket, data: Any, code: str) -> None:
    ack = citizen.call("chat.send", data)
    assert ack["ok"] is False and ack["error"]["code"] == code
    assert ack["error"]["message_zh"]
    assert len(chat_messages()) == 1  # only the first line


def test_a_bug_is_logged_and_answered_without_details(
    citizen: Socket, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from hotline.intake import chat

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database exploded")

    monkeypatch.setattr(chat, "post_citizen_message", broken)
    ack = citizen.call("chat.send", {"text": "你好"})
    assert ack == {
        "ok": False,
        "error": {
            "code": "internal_error",
            "message": "Internal error",
            "message_zh": "服务器内部错误",
        },
    }
    [record] = [r for r in caplog.records if r.name == "web.sockets"]
    assert record.getMessage() == "socket event chat.send on /chat failed"
    assert "hotline_chat" not in record.getMessage()


def test_exactly_2000_characters_are_accepted(citizen: Socket) -> None:
    assert citizen.call("chat.send", {"text": "长" * 2000})["ok"] is True


def test_a_retried_line_is_stored_once(citizen: Socket) -> None:
    first = citizen.call("chat.send", {"text": "重发", "client_id": "c-1"})
    again = citizen.call("chat.send", {"text": "重发", "client_id": "c-1"})
    assert first == again == {"ok": True, "id": first["id"]}
    assert [m.body for m in chat_messages()] == [FIRST, "重发"]


def test_a_chat_is_rate_limited_per_session(app: Flask, citizen: Socket) -> None:
    app.config["CHAT_MESSAGES_PER_MINUTE"] = 3
    acks = [citizen.call("chat.send", {"text": f"第{i}句"}) for i in range(4)]
    # The first line (at the start) counts too: two more fit in the minute.
    assert [a["ok"] for a in acks] == [True, True, False, False]
    assert acks[2]["error"]["code"] == "rate_limited"
    assert acks[2]["error"]["message_zh"] == "发送过于频繁，请稍后再试"


def test_closing_ends_the_chat_for_both_sides(citizen: Socket, agent: Socket) -> None:
    reference = the_ticket().reference
    assert agent.call("chat.close", {"reference": reference}) == {"ok": True}
    relay()
    [closed] = citizen.received("chat.closed")
    assert closed["reference"] == reference and closed["closed_by"] == "agent"
    assert [c["reference"] for c in agent.received("chat.closed")] == [reference]
    assert citizen.call("chat.send", {"text": "还在吗"})["error"]["code"] == "conflict"
    reply = agent.call("chat.reply", {"reference": reference, "text": "再见"})
    assert reply["error"]["code"] == "conflict"
    assert db.session.scalar(select(Event.action).where(Event.action == "chat_close"))
    assert the_ticket().status == "accepted"  # the ticket goes on; only the chat ended


def test_the_citizen_can_end_the_chat(client: FlaskClient, citizen: Socket) -> None:
    assert citizen.call("chat.leave") == {"ok": True}
    assert citizen.call("chat.leave") == {"ok": True}  # twice changes nothing
    assert db.session.scalar(select(func.count()).where(Event.action == "chat_close")) == 1
    page = client.get("/chat")
    assert 'data-state="closed"' in page.text and "发起新的咨询" in page.text


# -- who may connect and act --------------------------------------------------------------


def test_the_chat_namespace_needs_the_chat_cookie(app: Flask, client: FlaskClient) -> None:
    assert not Socket(app, "/chat", client).connected
    client.set_cookie("hotline_chat", "x" * 43)  # well-formed but unknown
    assert not Socket(app, "/chat", client).connected
    start(client)
    assert Socket(app, "/chat", client).connected


def test_a_cross_site_handshake_is_refused(app: Flask, client: FlaskClient) -> None:
    start(client)
    evil = Socket(app, "/chat", client, headers={"Origin": "https://evil.example"})
    assert not evil.connected
    same = Socket(app, "/chat", client, headers={"Origin": "http://localhost"})
    assert same.connected


@pytest.mark.parametrize(
    ("role", "department", "allowed"),
    [
        ("agent", None, True),
        ("dispatcher", None, True),
        ("supervisor", None, True),
        ("admin", None, True),
        ("handler", "SCJGJ", True),  # joins its unit's room only (web.desk)
        ("editor", None, False),
    ],
)
def test_the_office_namespace_is_for_staff_and_handling_units(
    app: Flask, catalogue: Any, role: str, department: str | None, allowed: bool
) -> None:
    staff_client = login(app, f"u-{role}", role, department)
    assert Socket(app, "/office", staff_client).connected is allowed


def test_anonymous_cannot_join_the_office(app: Flask, client: FlaskClient) -> None:
    assert not Socket(app, "/office", client).connected


def test_a_supervisor_watches_but_cannot_reply(app: Flask, citizen: Socket) -> None:
    reference = the_ticket().reference
    supervisor = Socket(app, "/office", login(app, "boss", "supervisor"))
    ack = supervisor.call("chat.reply", {"reference": reference, "text": "我来回答"})
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden"
    assert supervisor.call("chat.close", {"reference": reference})["error"]["code"] == "forbidden"
    history = supervisor.call("chat.history", {"reference": reference})
    assert history["ok"] is True and len(history["messages"]) == 1


def test_only_chat_tickets_take_chat_replies(app: Flask, agent: Socket) -> None:
    from hotline.tickets.service import NewTicket, open_ticket

    ticket, _ = open_ticket(
        NewTicket(channel="phone", type="consult", urgency="general", content="电话咨询"), None
    )
    ack = agent.call("chat.reply", {"reference": ticket.reference, "text": "您好"})
    assert ack["error"]["code"] == "invalid_input" and ack["error"]["details"]["field"] == (
        "reference"
    )
    assert agent.call("chat.reply", {"reference": "nope", "text": "您好"})["error"]["code"] == (
        "not_found"
    )
    assert agent.call("chat.reply", {"text": "您好"})["error"]["code"] == "invalid_input"


# -- namespaces ---------------------------------------------------------------------------


def test_pushes_go_to_the_namespace_of_their_room(app: Flask, client: FlaskClient) -> None:
    """Through the real realtime.publish: "chat:" rooms live in "/chat", the rest in "/office"."""
    reference = start(client)
    citizen = Socket(app, "/chat", client)
    agent = Socket(app, "/office", login(app, "agent1", "agent"))
    ack = agent.call("chat.reply", {"reference": reference, "text": "您好，请讲"})
    relay()
    assert [m["id"] for m in citizen.received("chat.message")][-1] == ack["id"]
    office = agent.received("chat.message")
    assert ack["id"] in [m["id"] for m in office]
    assert all("author_name" in m for m in office)  # the office copies, never the citizen's
    assert reference in [s["reference"] for s in agent.received("chat.started")]
    assert reference in [u["reference"] for u in agent.received("ticket.updated")]
    assert citizen.received() == []  # nothing meant for the office reaches the citizen
