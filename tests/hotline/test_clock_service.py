"""The clock inside the app: imports, provisional deadlines and their alerts, the CLI."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from hotline.clock import service
from hotline.clock.service import (
    calendar_status,
    deadline_for,
    import_calendar,
    invalidate_calendar_cache,
    load_calendar,
    preview,
    recompute_provisional_deadlines,
    yellow_warning_for,
)
from hotline.errors import ImportFailed, InvalidInput
from hotline.extensions import db
from hotline.models import (
    Assignment,
    CalendarDay,
    CalendarYear,
    Department,
    Event,
    SystemAlert,
    Ticket,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
SAMPLES = Path(__file__).resolve().parents[2] / "hotline" / "clock" / "samples"
SCHEDULE_2027 = """\
year: 2027
source: 测试用 2027 年安排
holidays:
  - {name: 元旦, from: 2027-01-01, to: 2027-01-03}
  - {name: 春节, from: 2027-02-06, to: 2027-02-13}
workdays:
  - {date: 2027-02-20, name: 春节调休}
"""
BAD_2027 = """\
year: 2027
source: 测试用 2027 年安排（有错）
holidays:
  - {name: 元旦, from: 2027-01-03, to: 2027-01-01}
  - {name: 春节, from: 2027-02-06, to: 2028-02-13}
  - {name: 国庆节, from: 2027-10-01, to: 2027-10-07}
workdays:
  - {date: 2027-10-02, name: 冲突}
"""


def shanghai(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def end_of(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 23, 59, 59, tzinfo=SHANGHAI).astimezone(UTC)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def open_alerts() -> list[SystemAlert]:
    return list(
        db.session.scalars(
            select(SystemAlert).where(SystemAlert.resolved_at.is_(None)).order_by(SystemAlert.key)
        )
    )


def days(n: int) -> dict[str, Any]:
    return {"amount": n, "unit": "working_days"}


# --- imports --------------------------------------------------------------------------


def test_import_then_working_days_across_2027(app: Flask, tmp_path: Path) -> None:
    summary = import_calendar(write(tmp_path, "2027.yaml", SCHEDULE_2027))
    assert (summary.year, summary.holidays, summary.workdays) == (2027, 11, 1)
    assert summary.source == "测试用 2027 年安排"
    assert summary.tickets_recomputed == 0
    assert db.session.get(CalendarYear, 2027).source == "测试用 2027 年安排"
    assert db.session.scalar(select(func.count()).select_from(CalendarDay)) == 12

    result = deadline_for(shanghai(2026, 12, 30, 10), days(5))
    # 12-31, then 2027-01-01..03 are off: 01-04, 05, 06, 07
    assert result == service.DeadlineResult(end_of(2027, 1, 7), provisional=False)
    spring = deadline_for(shanghai(2027, 2, 5, 10), days(2))
    assert spring.at == end_of(2027, 2, 16)  # 02-06..13 off, 02-14 a Sunday: 15, 16
    saturday = deadline_for(shanghai(2027, 2, 19, 10), days(1))
    assert saturday.at == end_of(2027, 2, 20)  # the make-up Saturday
    assert open_alerts() == []


def test_a_json_file_imports_and_overrides_the_package(app: Flask) -> None:
    summary = import_calendar(SAMPLES / "2026.json")
    assert (summary.year, summary.holidays, summary.workdays) == (2026, 33, 6)
    assert load_calendar().source_for(2026) == "import"
    assert deadline_for(shanghai(2026, 2, 13, 9), days(10)).at == end_of(2026, 3, 5)


def test_reimporting_a_year_replaces_its_days(app: Flask, tmp_path: Path) -> None:
    import_calendar(write(tmp_path, "2027.yaml", SCHEDULE_2027))
    smaller = SCHEDULE_2027.replace("  - {name: 春节, from: 2027-02-06, to: 2027-02-13}\n", "")
    summary = import_calendar(write(tmp_path, "2027-v2.yaml", smaller))
    assert summary.holidays == 3
    assert db.session.get(CalendarDay, date(2027, 2, 8)) is None
    assert load_calendar().is_workday(date(2027, 2, 8))
    assert db.session.scalar(select(func.count()).select_from(CalendarYear)) == 1


def test_an_invalid_file_lists_every_problem_and_imports_nothing(
    app: Flask, tmp_path: Path
) -> None:
    import_calendar(write(tmp_path, "2027.yaml", SCHEDULE_2027))
    with pytest.raises(ImportFailed) as raised:
        import_calendar(write(tmp_path, "bad.yaml", BAD_2027))
    assert raised.value.problems == [
        "bad.yaml: holidays[0].to: 2027-01-01 is before from 2027-01-03",
        "bad.yaml: holidays[1].to: 2028-02-13 is not in 2027",
        "bad.yaml: workdays[0].date: 2027-10-02 is also a holiday in holidays[2]; "
        "a day cannot be both a holiday and a make-up working day",
    ]
    db.session.rollback()
    assert db.session.get(CalendarYear, 2027).source == "测试用 2027 年安排"
    assert db.session.scalar(select(func.count()).select_from(CalendarDay)) == 12


def test_a_failure_after_validation_rolls_everything_back(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deadline_for(shanghai(2027, 3, 1, 9), days(1))
    db.session.commit()

    def explode() -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(service, "recompute_provisional_deadlines", explode)
    with pytest.raises(RuntimeError, match="disk on fire"):
        import_calendar(write(tmp_path, "2027.yaml", SCHEDULE_2027))
    assert db.session.scalar(select(func.count()).select_from(CalendarDay)) == 0
    assert db.session.get(CalendarYear, 2027) is None
    assert [alert.key for alert in open_alerts()] == ["calendar:2027"]
    assert load_calendar().source_for(2027) is None


# --- provisional deadlines and alerts ------------------------------------------------------


def test_an_uncovered_year_gives_a_provisional_deadline_and_one_alert(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hotline.clock.service"):
        first = deadline_for(shanghai(2027, 3, 1, 9), days(5))
        second = deadline_for(shanghai(2027, 3, 2, 9), days(5))
    assert first == service.DeadlineResult(end_of(2027, 3, 8), provisional=True)  # Mon–Fri
    assert second.provisional
    assert sum("No working-day calendar for 2027" in r.getMessage() for r in caplog.records) == 2
    db.session.commit()
    deadline_for(shanghai(2027, 3, 3, 9), days(1))
    db.session.commit()
    alerts = open_alerts()
    assert [(a.kind, a.key) for a in alerts] == [("calendar_missing", "calendar:2027")]
    assert "2027" in alerts[0].message
    assert "缺少 2027 年节假日安排数据" in alerts[0].message
    assert "hotline calendar import" in alerts[0].message


def test_the_alert_goes_with_the_callers_transaction(app: Flask) -> None:
    deadline_for(shanghai(2027, 3, 1, 9), days(5))
    db.session.rollback()
    assert open_alerts() == []


def test_a_deadline_across_two_missing_years_alerts_both(app: Flask) -> None:
    result = deadline_for(shanghai(2027, 12, 20, 9), days(15))
    assert result.provisional
    db.session.commit()
    assert [a.key for a in open_alerts()] == ["calendar:2027", "calendar:2028"]


def test_hour_limits_are_never_provisional(app: Flask) -> None:
    result = deadline_for(shanghai(2027, 3, 1, 9), {"amount": 2, "unit": "hours"})
    assert result == service.DeadlineResult(shanghai(2027, 3, 1, 11).astimezone(UTC))
    db.session.commit()
    assert open_alerts() == []


def test_yellow_warning_for(app: Flask) -> None:
    start = shanghai(2025, 9, 29, 10)
    due = deadline_for(start, days(15)).at
    assert yellow_warning_for(start, due) == service.DeadlineResult(end_of(2025, 10, 24))
    guessed = yellow_warning_for(shanghai(2027, 3, 1, 9), end_of(2027, 3, 22))
    assert guessed == service.DeadlineResult(end_of(2027, 3, 19), provisional=True)


def test_preview_counts_both_clocks_from_receipt(app: Flask) -> None:
    received = shanghai(2025, 9, 29, 23, 30)
    result = preview("complaint", "general", received)
    assert result == {
        "sign_due_at": end_of(2025, 9, 30),
        "due_at": end_of(2025, 10, 27),
        "provisional": False,
    }
    assert result["due_at"].tzinfo is UTC
    urgent = preview("help", "emergency", received)
    assert urgent["sign_due_at"] == shanghai(2025, 9, 29, 23, 45).astimezone(UTC)
    assert urgent["due_at"] == shanghai(2025, 9, 30, 1, 30).astimezone(UTC)


def test_a_provisional_preview_keeps_its_alert(app: Flask) -> None:
    result = preview("consult", "general", shanghai(2027, 3, 1, 9))
    assert result["provisional"] is True
    db.session.rollback()
    assert [a.key for a in open_alerts()] == ["calendar:2027"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("gossip", "general", datetime(2025, 9, 29, tzinfo=UTC)), "type"),
        (("consult", "whenever", datetime(2025, 9, 29, tzinfo=UTC)), "urgency"),
        (("consult", "general", datetime(2025, 9, 29)), "received_at"),
    ],
)
def test_preview_refuses_bad_input(app: Flask, args: tuple[Any, ...], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        preview(*args)
    assert raised.value.details["field"] == field


# --- recomputing provisional tickets ---------------------------------------------------------


def make_ticket(reference: str, *, status: str = "in_progress") -> Ticket:
    """A complaint received 2026-12-28, dispatched 12-31: both clocks reach into 2027."""
    received = shanghai(2026, 12, 28, 10)
    dispatched = shanghai(2026, 12, 31, 16)
    ticket = Ticket(
        reference=reference,
        status=status,
        channel="phone",
        type="complaint",
        urgency="general",
        title="噪音扰民",
        content="夜间施工噪音",
        received_at=received,
        dispatched_at=dispatched,
        dispatch_round=1,
    )
    due = deadline_for(received, days(15))
    sign = deadline_for(dispatched, days(1))
    ticket.due_at, ticket.sign_due_at = due.at, sign.at
    ticket.deadline_provisional = due.provisional or sign.provisional
    db.session.add(ticket)
    return ticket


def test_import_resolves_the_alert_and_recomputes_provisional_tickets(
    app: Flask, tmp_path: Path
) -> None:
    unit = Department(
        code="SCJGJ", name="市市场监管局", short_name="市场监管局", level="city", kind="dept"
    )
    db.session.add(unit)
    ticket = make_ticket("20261228-0001")
    assignment = Assignment(
        ticket=ticket,
        department=unit,
        role="lead",
        round=1,
        dispatched_at=ticket.dispatched_at,
        sign_due_at=ticket.sign_due_at,
        send_back_due_at=deadline_for(ticket.dispatched_at, days(1)).at,
    )
    db.session.add(assignment)
    closed = make_ticket("20261228-0002", status="closed")
    db.session.commit()
    # The guesses: 2027-01-01 (a Friday) counted as a working day.
    assert ticket.deadline_provisional
    assert ticket.due_at == end_of(2027, 1, 18)
    assert ticket.sign_due_at == end_of(2027, 1, 1)
    assert [a.key for a in open_alerts()] == ["calendar:2027"]

    summary = import_calendar(write(tmp_path, "2027.yaml", SCHEDULE_2027))
    assert summary.alerts_resolved == 1
    assert summary.tickets_recomputed == 1
    assert summary.tickets_still_provisional == 0

    db.session.expire_all()
    ticket = db.session.scalars(select(Ticket).where(Ticket.reference == "20261228-0001")).one()
    assert not ticket.deadline_provisional
    assert ticket.due_at == end_of(2027, 1, 19)
    assert ticket.sign_due_at == end_of(2027, 1, 4)
    lead = ticket.assignments[0]
    assert lead.sign_due_at == end_of(2027, 1, 4)
    assert lead.send_back_due_at == end_of(2027, 1, 4)
    assert open_alerts() == []
    resolved = db.session.scalars(select(SystemAlert)).one()
    assert resolved.resolved_at is not None
    event = db.session.scalars(
        select(Event).where(Event.ticket_id == ticket.id, Event.action == "recompute_deadlines")
    ).one()
    assert event.data["changed"] == {
        "due_at": end_of(2027, 1, 19).isoformat(),
        "sign_due_at": end_of(2027, 1, 4).isoformat(),
    }
    assert event.actor_name == "system"
    # A closed ticket keeps its history as it was.
    closed = db.session.get(Ticket, closed.id)
    assert closed.deadline_provisional
    assert closed.due_at == end_of(2027, 1, 18)


def test_recompute_keeps_the_flag_while_a_year_is_still_missing(app: Flask) -> None:
    ticket = make_ticket("20261228-0003")
    ticket.received_at = shanghai(2027, 12, 20, 9)
    db.session.commit()
    assert recompute_provisional_deadlines() == 1
    assert ticket.deadline_provisional
    assert ticket.due_at == deadline_for(ticket.received_at, days(15)).at


def test_recompute_replays_approved_extensions(app: Flask, tmp_path: Path) -> None:
    from hotline.auth import add_user
    from hotline.models import ExtensionRequest

    unit = Department(
        code="PJQ", name="蓬江区人民政府", short_name="蓬江区", level="district", kind="gov"
    )
    db.session.add(unit)
    db.session.commit()
    handler = add_user("handler1", "handler", department_code="PJQ", password="pw-handler1")
    ticket = make_ticket("20261228-0004")
    db.session.flush()
    moved = deadline_for(ticket.due_at, days(3))
    db.session.add(
        ExtensionRequest(
            ticket_id=ticket.id,
            department_id=unit.id,
            days=3,
            reason="需要现场核查",
            requested_by_id=handler.id,
            decision="approved",
            reviewed_at=shanghai(2027, 1, 10, 9),
            old_due_at=ticket.due_at,
            new_due_at=moved.at,
        )
    )
    ticket.due_at = moved.at
    ticket.extension_count = 1
    db.session.commit()
    assert ticket.due_at == end_of(2027, 1, 21)  # guessed 01-18 plus 3

    import_calendar(write(tmp_path, "2027.yaml", SCHEDULE_2027))
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.due_at == end_of(2027, 1, 22)  # real 01-19 plus 3
    assert not ticket.deadline_provisional


# --- the cache ---------------------------------------------------------------------------


def test_the_calendar_is_cached_until_the_years_change(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_calendar()
    assert load_calendar() is first
    # Another process imports: no invalidation here, yet a load after the signature's
    # time to live sees it.
    db.session.add(CalendarYear(year=2027, source="另一进程导入"))
    db.session.add(CalendarDay(day=date(2027, 1, 1), is_workday=False, name="元旦"))
    db.session.commit()
    assert load_calendar() is first  # within the TTL: no query per deadline
    monkeypatch.setattr(service, "SIGNATURE_TTL", 0.0)
    second = load_calendar()
    assert second is not first
    assert second.source_for(2027) == "import"
    assert not second.is_workday(date(2027, 1, 1))
    invalidate_calendar_cache()
    assert load_calendar() is not second


# --- status and the command line -----------------------------------------------------------


def test_calendar_status(app: Flask, tmp_path: Path) -> None:
    import_calendar(write(tmp_path, "2027.yaml", SCHEDULE_2027))
    deadline_for(shanghai(2028, 3, 1, 9), days(1))
    db.session.commit()
    statuses = {s.year: s for s in calendar_status([2028, 2025, 2027])}
    assert list(statuses) == [2025, 2027, 2028]
    assert statuses[2025].covered_by == "package"
    assert statuses[2025].source is not None and "chinesecalendar" in statuses[2025].source
    assert statuses[2027].covered_by == "import"
    assert statuses[2027].source == "测试用 2027 年安排"
    assert statuses[2027].imported_at is not None
    assert statuses[2028].covered_by == "missing"
    assert statuses[2028].open_alert
    assert not statuses[2027].open_alert


def test_cli_import_and_status(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "2027.yaml", SCHEDULE_2027)
    result = runner.invoke(args=["calendar", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "calendar 2027 imported (测试用 2027 年安排): 11 day(s) off" in result.stdout
    status = runner.invoke(args=["calendar", "status", "--years", "2026-2028"])
    assert status.exit_code == 0, status.output
    lines = status.stdout.splitlines()
    assert lines[0].startswith("2026  package")
    assert lines[1].startswith("2027  imported   测试用 2027 年安排")
    assert lines[2].startswith("2028  MISSING")
    default = runner.invoke(args=["calendar", "status"])
    assert default.exit_code == 0
    assert len(default.stdout.splitlines()) == 2


def test_cli_import_refusal_prints_every_problem(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(args=["calendar", "import", str(write(tmp_path, "bad.yaml", BAD_2027))])
    assert result.exit_code == 1
    assert "3 problem(s)" in result.stderr
    assert "bad.yaml: holidays[0].to: 2027-01-01 is before from 2027-01-03" in result.stderr
    assert "bad.yaml: holidays[1].to: 2028-02-13 is not in 2027" in result.stderr
    assert "bad.yaml: workdays[0].date: 2027-10-02 is also a holiday" in result.stderr
    assert result.stdout == ""
    missing = runner.invoke(args=["calendar", "import", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 1
    assert "none.yaml: cannot read the file" in missing.stderr


@pytest.mark.parametrize("years", ["2027-2025", "twenty", "1800", "2000-2100"])
def test_cli_status_refuses_bad_years(app: Flask, runner: FlaskCliRunner, years: str) -> None:
    result = runner.invoke(args=["calendar", "status", "--years", years])
    assert result.exit_code == 2
