"""The deadline sweep: each warning and escalation raised exactly once, on time, with the
clock moved across the National Day holiday (2025-10-01 … 10-08, 10-11 a working day)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from hotline.extensions import db
from hotline.models import DeadlineAlert, Event, Supervision, Ticket
from hotline.models.base import simulated_now
from hotline.sweeps import fill_missing_warnings, schedule_sweep, sweep
from tests.api_helpers import new_ticket, ok

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def ticket(reference: str) -> Ticket:
    db.session.rollback()
    found = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    assert found is not None
    return found


def kinds(reference: str) -> list[str]:
    t = ticket(reference)
    return list(
        db.session.scalars(
            select(DeadlineAlert.kind)
            .where(DeadlineAlert.ticket_id == t.id)
            .order_by(DeadlineAlert.id)
        )
    )


def at(moment: datetime) -> dict[str, int]:
    with simulated_now(moment):
        return {k: n for k, n in sweep().items() if n}


@pytest.fixture
def consult(staff: Any) -> str:
    """A consultation (2 working days) dispatched on Monday 2025-09-29, 10:00."""
    with simulated_now(local("2025-09-29T10:00:00")):
        reference = new_ticket(staff, type="consult", content="咨询国庆期间社保窗口是否办公")
        ok(staff.act("agent", reference, "dispatch", {"department": "PJQ"}))
    return reference


def test_every_warning_and_escalation_comes_once_and_on_time(staff: Any, consult: str) -> None:
    t = ticket(consult)
    assert t.sign_due_at.astimezone(SHANGHAI).isoformat() == "2025-09-30T23:59:59+08:00"
    # Two working days run across the holiday: due on Thursday 10-09.
    assert t.due_at.astimezone(SHANGHAI).date().isoformat() == "2025-10-09"
    assert t.sign_warn_at is not None and t.sign_warn_at <= t.sign_due_at
    assert t.due_warn_at is not None and t.due_warn_at <= t.due_at

    assert at(t.sign_warn_at - timedelta(minutes=1)) == {}
    assert at(t.sign_warn_at + timedelta(minutes=1)) == {"sign_yellow": 1}
    assert at(t.sign_warn_at + timedelta(minutes=2)) == {}  # once
    assert at(t.sign_due_at + timedelta(seconds=1)) == {"sign_red": 1}
    with simulated_now(local("2025-10-01T09:00:00")):
        ok(staff.act("pjq", consult, "sign"))
    t = ticket(consult)
    assert at(t.due_warn_at + timedelta(minutes=1)) == {"due_yellow": 1}
    assert at(local("2025-10-09T23:00:00")) == {}
    assert at(local("2025-10-10T00:00:30")) == {"due_red": 1}
    assert ticket(consult).urge_count == 1
    # Five working days overdue, counting Saturday 10-11 (a make-up working day): 10-15.
    assert at(local("2025-10-15T12:00:00")) == {}
    assert at(local("2025-10-16T00:30:00")) == {"supervise": 1}
    assert at(local("2025-10-20T09:00:00")) == {}
    t = ticket(consult)
    assert (t.urge_count, t.supervise_count) == (1, 1)
    assert kinds(consult) == ["sign_yellow", "sign_red", "due_yellow", "due_red", "supervise"]
    automatic = db.session.scalars(
        select(Supervision.automatic).where(Supervision.ticket_id == t.id)
    )
    assert list(automatic) == [True, True]
    notes = db.session.scalars(
        select(Event.note).where(Event.ticket_id == t.id, Event.action == "deadline_alert")
    ).all()
    assert len(notes) == 5 and "自动督办" in notes[-1]


def test_a_moved_deadline_warns_again_and_a_closed_ticket_never(staff: Any, consult: str) -> None:
    with simulated_now(local("2025-09-29T11:00:00")):
        ok(staff.act("pjq", consult, "sign"))
    first_due = ticket(consult).due_at
    assert at(first_due + timedelta(minutes=5)).get("due_red") == 1
    with simulated_now(first_due + timedelta(hours=1)):
        ok(staff.act("pjq", consult, "request_extension", {"days": 3, "reason": "需协调"}))
        ok(staff.act("dispatcher", consult, "review_extension", {"approve": True}))
    moved = ticket(consult).due_at
    assert moved > first_due
    assert at(moved + timedelta(minutes=5)).get("due_red") == 1  # the new deadline
    assert kinds(consult).count("due_red") == 2

    with simulated_now(local("2025-09-29T10:00:00")):
        other = new_ticket(staff, type="consult", content="另一件咨询")
        ok(staff.act("agent", other, "dispatch", {"department": "PJQ"}))
        ok(staff.act("pjq", other, "sign"))
        ok(staff.act("pjq", other, "reply", {"result": "explained", "text": "已解答"}))
    assert at(local("2025-10-20T09:00:00")).get("due_red", 0) == 0
    assert kinds(other) == []


def test_a_send_back_waiting_too_long_reminds_the_centre(staff: Any, consult: str) -> None:
    with simulated_now(local("2025-09-29T14:30:00")):
        ok(staff.act("pjq", consult, "send_back", {"reason": "不属本单位", "basis": "职责清单"}))
    # Four office hours: 14:30-17:30 on Monday, then 08:30-09:30 on Tuesday.
    assert at(local("2025-09-30T09:00:00")).get("return_review", 0) == 0
    assert at(local("2025-09-30T09:45:00")).get("return_review") == 1
    assert at(local("2025-09-30T10:45:00")).get("return_review", 0) == 0
    assert kinds(consult).count("return_review") == 1


def test_warning_times_missing_on_old_rows_are_filled_in(staff: Any, consult: str) -> None:
    db.session.execute(update(Ticket).values(sign_warn_at=None, due_warn_at=None))
    db.session.commit()
    assert fill_missing_warnings() == 1
    assert ticket(consult).sign_warn_at is not None and ticket(consult).due_warn_at is not None
    assert fill_missing_warnings() == 0


def test_two_sweeps_at_once_raise_each_alert_once(app: Flask, staff: Any) -> None:
    references = []
    with simulated_now(local("2025-09-29T10:00:00")):
        for n in range(6):
            reference = new_ticket(staff, type="consult", content=f"咨询事项{n}")
            ok(staff.act("agent", reference, "dispatch", {"department": "PJQ"}))
            references.append(reference)
    db.session.rollback()
    db.session.remove()
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context(), simulated_now(local("2025-10-20T09:00:00")):
                start.wait()
                sweep()
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    counts = db.session.execute(
        select(DeadlineAlert.kind, func.count()).group_by(DeadlineAlert.kind)
    ).all()
    assert dict(counts) == {"sign_red": 6, "due_red": 6, "supervise": 6}
    urged = db.session.scalars(select(Ticket.urge_count).where(Ticket.reference.in_(references)))
    assert list(urged) == [1] * 6


def test_the_next_sweep_is_scheduled_once_on_rqs_scheduler(app: Flask) -> None:
    from rq.registry import ScheduledJobRegistry

    from hotline.queue import get_queue

    first = schedule_sweep()
    assert first is not None and first.startswith("sweep-")
    assert schedule_sweep() is None  # every worker asks; one job
    registry = ScheduledJobRegistry(queue=get_queue())
    assert first in registry.get_job_ids()
    job = get_queue().fetch_job(first)
    assert job is not None and job.func_name == "hotline.jobs.sweep_deadlines"
    assert set(job.kwargs) == {"full"}

    from hotline.jobs import sweep_deadlines

    found = sweep_deadlines()  # what the scheduled job runs: the sweep, then the rollup
    assert found["filled"] == 0 and found["rollup_days"] == 0  # an empty centre


def test_a_quick_round_looks_back_a_little_and_a_full_round_at_everything(
    staff: Any, consult: str
) -> None:
    t = ticket(consult)
    long_after = t.sign_due_at + timedelta(days=2)  # beyond SWEEP_LOOKBACK_S
    with simulated_now(long_after):
        assert sweep(full=False).get("sign_red", 0) == 0
        assert sweep(full=True)["sign_red"] == 1
    just_after = t.due_at + timedelta(minutes=3)
    with simulated_now(just_after):
        assert sweep(full=False)["due_red"] == 1  # within the lookback


def test_a_ticket_changed_after_the_query_is_left_for_the_next_round(
    staff: Any, consult: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The extension lands between the sweep's query and its lock: the red card is not
    raised against the old deadline (nor claimed for it), and comes for the new one."""
    import hotline.sweeps as sweeps

    with simulated_now(local("2025-09-29T11:00:00")):
        ok(staff.act("pjq", consult, "sign"))
    old_due = ticket(consult).due_at
    real_claim = sweeps.claim
    moved_due = old_due + timedelta(days=3)

    def extension_lands_first(t: Ticket, kind: str, deadline: datetime) -> bool:
        if kind == "due_red":
            raise AssertionError("claimed against a deadline that moved")
        return real_claim(t, kind, deadline)

    real_execute = db.session.execute
    moved = False

    def execute(statement: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal moved
        result = real_execute(statement, *args, **kwargs)
        if (
            not moved
            and "ticket.due_at <=" in str(statement)
            and "deadline_alert" in str(statement)
        ):
            rows = result.all()
            moved = True
            real_execute(update(Ticket).values(due_at=moved_due))  # another worker's extension
            db.session.commit()
            return _Rows(rows)
        return result

    monkeypatch.setattr(sweeps, "claim", extension_lands_first)
    monkeypatch.setattr(db.session, "execute", execute)
    with simulated_now(old_due + timedelta(minutes=5)):
        sweep()
    monkeypatch.undo()
    assert moved and kinds(consult).count("due_red") == 0
    assert at(moved_due + timedelta(minutes=5)).get("due_red") == 1


class _Rows:
    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def all(self) -> list[Any]:
        return self.rows
