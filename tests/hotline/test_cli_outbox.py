"""Operators' catch-up commands: finish stored requests, resend held SMS."""

from __future__ import annotations

from sqlalchemy import func, select

from hotline.cli import outbox_cli
from hotline.extensions import db
from hotline.intake.raw import store_inbound
from hotline.models import InboundRequest, Message, Ticket
from hotline.tickets.service import NewTicket, open_ticket


def test_replay_finishes_a_stored_sms_that_was_never_processed(app, runner, catalogue):
    row, first = store_inbound(
        "sms",
        {
            "MessageSid": "SM" + "7" * 32,
            "From": "+8613800138000",
            "To": "+8612345",
            "Body": "小区停水两天了没人管",
        },
        dedupe_key="sms:SM" + "7" * 32,
    )
    assert first and row.processed_at is None
    result = runner.invoke(outbox_cli, ["replay"])
    assert result.exit_code == 0, result.output
    assert "finished 1" in result.output
    db.session.expire_all()
    row = db.session.get(InboundRequest, row.id)
    assert row.processed_at is not None and row.ticket_id is not None
    assert db.session.scalar(select(Ticket.channel)) == "sms"
    again = runner.invoke(outbox_cli, ["replay"])
    assert "finished 0" in again.output
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_resend_held_queues_held_messages_again(app, runner, catalogue):
    open_ticket(
        NewTicket(
            channel="window",
            type="help",
            urgency="general",
            content="路灯坏了",
            phone="13800138000",
        ),
        None,
    )
    message = db.session.scalar(select(Message).where(Message.direction == "outbound"))
    assert message is not None
    message.status = "held"
    db.session.commit()
    assert "queued 0" in runner.invoke(outbox_cli, ["resend-held"]).output  # still no Twilio
    app.config.update(
        TWILIO_ACCOUNT_SID="AC" + "0" * 32, TWILIO_AUTH_TOKEN="token", TWILIO_NUMBER="+8612345"
    )
    result = runner.invoke(outbox_cli, ["resend-held"])
    assert result.exit_code == 0, result.output
    assert "queued 1" in result.output
    db.session.expire_all()
    assert db.session.get(Message, message.id).status == "queued"
