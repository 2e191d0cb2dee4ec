"""The tamper-evident event log: one event per action, a hash chain that any edit or
deletion breaks, and the `hotline audit verify` command (DESIGN.md "Security")."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select, text

from hotline.audit import GENESIS, record_event, verify_chain
from hotline.auth import add_user
from hotline.extensions import db
from hotline.models import AuditChainHead, Event, Ticket
from hotline.models.base import simulated_now

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=SHANGHAI)


def run_lifecycle(staff: Any) -> str:
    """A complaint from acceptance to a satisfied visit, one step per (simulated) hour."""
    steps: list[tuple[str, str, dict[str, Any] | None]] = [
        ("agent", "dispatch", {"department": "SCJGJ", "note": "按权责清单派单"}),
        ("scjg", "sign", None),
        ("scjg", "contact", {"method": "phone", "note": "已联系来电人"}),
        ("scjg", "reply", {"result": "solved", "text": "已责令整改"}),
        ("dispatcher", "review_reply", {"approve": True}),
        ("agent", "visit", {"reached": True, "solved": "solved", "satisfaction": "satisfied"}),
    ]
    with simulated_now(at("2025-06-10T09:00:00")):
        response = staff.post(
            "agent",
            "/tickets",
            {
                "channel": "phone",
                "type": "complaint",
                "content": "超市出售过期食品",
                "phone": "13812345678",
                "category": "0101",
            },
        )
    assert response.status_code == 201, response.json
    ref = response.json["reference"]
    for hour, (who, action, body) in enumerate(steps, start=10):
        with simulated_now(at(f"2025-06-10T{hour}:00:00")):
            response = staff.act(who, ref, action, body)
        assert response.status_code == 200, (action, response.json)
    return ref


def ticket_events(ref: str) -> list[Event]:
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == ref))
    return list(
        db.session.scalars(select(Event).where(Event.ticket_id == ticket.id).order_by(Event.id))
    )


def all_event_ids() -> list[int]:
    return list(db.session.scalars(select(Event.id).order_by(Event.id)))


def test_every_action_appends_one_event_with_actor_time_and_states(staff):
    ref = run_lifecycle(staff)
    rows = [
        (e.action, e.actor_name, e.actor_role, e.from_status, e.to_status, e.at)
        for e in ticket_events(ref)
    ]
    assert rows == [
        ("accept", "agent", "agent", None, "accepted", at("2025-06-10T09:00:00")),
        ("dispatch", "agent", "agent", "accepted", "pending_sign", at("2025-06-10T10:00:00")),
        ("sign", "scjg", "handler", "pending_sign", "in_progress", at("2025-06-10T11:00:00")),
        ("contact", "scjg", "handler", "in_progress", "in_progress", at("2025-06-10T12:00:00")),
        ("reply", "scjg", "handler", "in_progress", "reply_review", at("2025-06-10T13:00:00")),
        (
            "review_reply",
            "dispatcher",
            "dispatcher",
            "reply_review",
            "pending_visit",
            at("2025-06-10T14:00:00"),
        ),
        ("visit", "agent", "agent", "pending_visit", "closed", at("2025-06-10T15:00:00")),
    ]
    events = ticket_events(ref)
    assert events[1].note == "按权责清单派单"
    assert events[1].data["department"] == "SCJGJ"
    assert events[2].department.code == "SCJGJ"  # the acting unit is on the event
    assert all(e.actor_id is not None for e in events)


def test_refused_actions_append_nothing(staff):
    ref = run_lifecycle(staff)
    before = db.session.scalar(select(func.count()).select_from(Event))
    assert staff.act("scjg", ref, "sign").status_code in (403, 409)
    assert staff.act("pjq", ref, "urge", {"note": "x"}).status_code == 403
    assert staff.act("dispatcher", ref, "dispatch", {"department": "PJQ"}).status_code == 409
    assert db.session.scalar(select(func.count()).select_from(Event)) == before
    assert verify_chain().ok


def test_chain_is_intact_after_a_lifecycle(staff):
    run_lifecycle(staff)
    report = verify_chain()
    assert report.ok, report
    assert (report.broken_at, report.reason) == (None, None)
    # user creation, tokens and the ticket's events all share the one chain
    assert report.checked == db.session.scalar(select(func.count()).select_from(Event))
    events = db.session.scalars(select(Event).order_by(Event.id)).all()
    assert events[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    head = db.session.get(AuditChainHead, 1)
    assert (head.last_event_id, head.last_hash) == (events[-1].id, events[-1].hash)


def test_editing_a_note_in_the_database_is_detected(staff):
    ref = run_lifecycle(staff)
    target = ticket_events(ref)[3]  # the contact note
    db.session.execute(
        text("UPDATE event SET note = :note WHERE id = :id"), {"note": "从未联系", "id": target.id}
    )
    db.session.commit()
    report = verify_chain()
    assert not report.ok
    assert report.broken_at == target.id
    assert "edited" in report.reason


@pytest.mark.parametrize(
    ("column", "value"),
    [("actor_name", "dispatcher"), ("to_status", "closed"), ("at", "2025-06-09 10:00:00")],
)
def test_editing_any_recorded_fact_is_detected(staff, column, value):
    ref = run_lifecycle(staff)
    target = ticket_events(ref)[2]
    db.session.execute(
        text(f"UPDATE event SET {column} = :v WHERE id = :id"), {"v": value, "id": target.id}
    )
    db.session.commit()
    assert verify_chain().broken_at == target.id


def test_editing_through_the_orm_is_detected(staff):
    ref = run_lifecycle(staff)
    target = ticket_events(ref)[-1]
    target.data = {**target.data, "satisfaction": "dissatisfied"}
    db.session.commit()
    report = verify_chain()
    assert report.broken_at == target.id


def test_deleting_a_middle_event_is_detected(staff):
    ref = run_lifecycle(staff)
    events = ticket_events(ref)
    removed, following = events[3], events[4]
    db.session.execute(delete(Event).where(Event.id == removed.id))
    db.session.commit()
    report = verify_chain()
    assert not report.ok
    assert report.broken_at == following.id
    assert "removed" in report.reason


def test_deleting_the_newest_event_is_detected(staff):
    run_lifecycle(staff)
    newest = all_event_ids()[-1]
    db.session.execute(text("DELETE FROM event WHERE id = :id"), {"id": newest})
    db.session.commit()
    report = verify_chain()
    assert not report.ok
    assert report.broken_at == newest  # the head still names the missing event
    assert "newest" in report.reason
    assert report.checked == len(all_event_ids())


def test_deleting_the_newest_event_and_the_head_row_is_detected(staff):
    run_lifecycle(staff)
    newest = all_event_ids()[-1]
    db.session.execute(text("DELETE FROM event WHERE id = :id"), {"id": newest})
    db.session.execute(text("DELETE FROM audit_chain_head"))
    db.session.commit()
    assert not verify_chain().ok


def test_an_empty_log_verifies(app):
    report = verify_chain()
    assert (report.ok, report.checked) == (True, 0)


def test_chain_survives_batches(app):
    add_user("a1", "agent")
    for i in range(6):
        record_event("test.batched", actor=None, note=f"event {i}")
    db.session.commit()
    assert verify_chain(batch=2).checked == 7
    middle = all_event_ids()[4]
    db.session.execute(text("UPDATE event SET note = 'x' WHERE id = :id"), {"id": middle})
    db.session.commit()
    assert verify_chain(batch=2).broken_at == middle  # found across a batch boundary


def test_audit_verify_command(staff, runner):
    ref = run_lifecycle(staff)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    count = db.session.scalar(select(func.count()).select_from(Event))
    assert f"{count} events verified" in result.output

    target = ticket_events(ref)[1]
    db.session.execute(text("UPDATE event SET note = 'changed' WHERE id = :id"), {"id": target.id})
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"BROKEN at event {target.id}" in result.output


def test_logins_are_chained_too(staff, client):
    add_user("desk", "agent", password="s3cret-password")
    assert client.post("/login", data={"username": "desk", "password": "nope"}).status_code == 401
    response = client.post("/login", data={"username": "desk", "password": "s3cret-password"})
    assert response.status_code == 302
    client.post("/logout")

    actions = ["user.login_failed", "user.login", "user.logout"]
    events = db.session.scalars(
        select(Event).where(Event.action.in_(actions)).order_by(Event.id)
    ).all()
    assert [e.action for e in events] == actions
    assert [e.actor_name for e in events] == ["system", "desk", "desk"]
    assert verify_chain().ok

    login = events[1]
    db.session.execute(
        text("UPDATE event SET actor_name = 'admin' WHERE id = :id"), {"id": login.id}
    )
    db.session.commit()
    assert verify_chain().broken_at == login.id
