"""The chat services without sockets: a stored start is replayed once, lines are checked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from hotline.errors import InvalidInput, PermissionDenied
from hotline.extensions import db
from hotline.intake import chat
from hotline.intake.raw import process, replay_unprocessed, store_inbound
from hotline.models import ChatSession, InboundRequest, Message, Ticket, User


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_a_start_stored_before_a_crash_is_finished_once_by_the_replay(app: Flask) -> None:
    digest = chat.token_hash("t" * 43)
    payload = {"token_hash": digest, "content": "公积金怎么提取？", "phone": None, "name": None}
    row, first_time = store_inbound("chat", payload, dedupe_key=f"chat:{digest}")
    assert first_time and count(Ticket) == 0  # stored, not yet processed (the "crash")
    assert replay_unprocessed(older_than=timedelta(0)) == 1
    assert replay_unprocessed(older_than=timedelta(0)) == 0
    process(db.session.get(InboundRequest, row.id))  # a late retry changes nothing
    assert (count(Ticket), count(ChatSession), count(Message)) == (1, 1, 1)
    session = chat.session_for_token("t" * 43)
    assert session is not None
    conversation = chat.conversation_for_token("t" * 43)
    assert conversation is not None and not conversation.closed
    assert [m["text"] for m in conversation.messages] == ["公积金怎么提取？"]


def test_the_processor_itself_is_idempotent(app: Flask) -> None:
    payload = {"token_hash": chat.token_hash("u" * 43), "content": "问", "phone": None}
    first = chat._open_chat(payload)
    db.session.commit()
    again = chat._open_chat(payload)
    db.session.commit()
    assert first.id == again.id
    assert (count(Ticket), count(ChatSession), count(Message)) == (1, 1, 1)


@pytest.mark.parametrize("token", [None, "", "short", "x" * 200, "bad token with spaces!!"])
def test_malformed_tokens_find_nothing(app: Flask, token: str | None) -> None:
    assert chat.session_for_token(token) is None
    assert chat.conversation_for_token(token) is None


@pytest.mark.parametrize("since_id", [-1, "3", 1.5, True, None])
def test_history_needs_a_message_id(app: Flask, since_id: object) -> None:
    started = chat.start_chat("问题")
    with pytest.raises(InvalidInput):
        chat.chat_history(started.ticket.id, since_id)


def test_only_office_roles_read_or_write_a_chat(app: Flask, catalogue: object) -> None:
    from hotline.auth import add_user

    started = chat.start_chat("问题")
    handler: User = add_user("h", "handler", department_code="SCJGJ")
    editor: User = add_user("e", "editor")
    for user in (handler, editor):
        with pytest.raises(PermissionDenied):
            chat.post_agent_message(started.ticket.reference, user, "答复")
        with pytest.raises(PermissionDenied):
            chat.office_history(started.ticket.reference, user)
        with pytest.raises(PermissionDenied):
            chat.close_chat(started.ticket.reference, user)
    assert count(Message) == 1


def test_a_name_too_long_is_refused(app: Flask) -> None:
    with pytest.raises(InvalidInput) as refused:
        chat.start_chat("问题", name="名" * 65)
    assert refused.value.details["field"] == "name"
    assert count(InboundRequest) == 0
