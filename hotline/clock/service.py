"""The clock inside the app: the imported calendar, deadlines that never guess silently.

`deadline_for` is what the ticket services call. When a deadline reaches a year no
calendar covers it is still computed (Mon–Fri assumed) so work can go on, but it is
flagged provisional, a `calendar_missing` alert is opened for operators and a warning
logged; `import_calendar` later fixes every provisional deadline of open tickets.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib.metadata import version
from typing import Any, Literal

from flask import current_app
from sqlalchemy import delete, func, select

from hotline.audit import record_event
from hotline.clock.calendar import Schedule, WorkCalendar, package_covers, read_schedule
from hotline.clock.deadlines import (
    ClockSettings,
    add_limit,
    handling_limit,
    send_back_limit,
    sign_limit,
    subtract_limit,
    visit_limit,
    yellow_warning_at,
)
from hotline.errors import CalendarDataMissing, InvalidInput
from hotline.extensions import db
from hotline.models import (
    OPEN_STATUSES,
    Assignment,
    CalendarDay,
    CalendarYear,
    Event,
    SystemAlert,
    Ticket,
    TicketStatus,
    TicketType,
    Urgency,
    utcnow,
)
from hotline.outbox import notify_on_commit

log = logging.getLogger(__name__)

ALERT_KIND = "calendar_missing"
PACKAGE_SOURCE = f"chinesecalendar {version('chinesecalendar')} (package data)"


@dataclass(frozen=True)
class DeadlineResult:
    """A computed instant (aware UTC); provisional when a year was assumed Mon–Fri."""

    at: datetime
    provisional: bool = False


@dataclass(frozen=True)
class ImportSummary:
    year: int
    source: str
    holidays: int
    workdays: int
    alerts_resolved: int
    tickets_recomputed: int
    tickets_still_provisional: int


@dataclass(frozen=True)
class YearStatus:
    year: int
    covered_by: Literal["import", "package", "missing"]
    source: str | None
    imported_at: datetime | None
    open_alert: bool


# --- the calendar, cached per process ---------------------------------------------

# (signature, calendar, checked at). The signature is re-read at most every
# SIGNATURE_TTL seconds, so an import made by another process (the `hotline calendar
# import` command) reaches web and workers within seconds without a query per deadline.
_cached: tuple[tuple[Any, ...], WorkCalendar, float] | None = None
SIGNATURE_TTL = 5.0


def invalidate_calendar_cache() -> None:
    """Forget the cached calendar; the next `load_calendar` reads the database."""
    global _cached
    _cached = None


def _calendar_signature() -> tuple[Any, ...]:
    count, latest = db.session.execute(
        select(func.count(CalendarYear.year), func.max(CalendarYear.imported_at))
    ).one()
    return (_url(), count, str(latest))


def load_calendar() -> WorkCalendar:
    """The working-day calendar: imported days and years over the package's data."""
    global _cached
    cached = _cached
    now = time.monotonic()
    if cached is not None and now - cached[2] < SIGNATURE_TTL and cached[0][0] == _url():
        return cached[1]
    with db.session.no_autoflush:
        signature = _calendar_signature()
        if cached is not None and cached[0] == signature:
            _cached = (signature, cached[1], now)
            return cached[1]
        years = db.session.scalars(select(CalendarYear.year)).all()
        rows = db.session.execute(select(CalendarDay.day, CalendarDay.is_workday)).all()
    calendar = WorkCalendar({row.day: row.is_workday for row in rows}, years)
    _cached = (signature, calendar, now)
    return calendar


def _url() -> str:
    return str(db.engine.url)


def clock_settings() -> ClockSettings:
    """The app's ClockSettings (TIMEZONE, DAY_DEADLINE_TIME, OFFICE_HOURS)."""
    return ClockSettings.from_config(current_app.config)


# --- deadlines --------------------------------------------------------------------


def _on_calendar(compute: Callable[[WorkCalendar, ClockSettings], datetime]) -> DeadlineResult:
    """`compute` on the city's working calendar; where a year is missing, on Mon-Fri,
    marked provisional, with the calendar alert added to the caller's session (written
    with the caller's transaction)."""
    calendar = load_calendar()
    settings = clock_settings()
    try:
        return DeadlineResult(compute(calendar, settings))
    except CalendarDataMissing:
        fallback = calendar.weekday_fallback()
        at = compute(fallback, settings)
        for year in sorted(fallback.guessed_years):
            raise_calendar_alert(year)
        return DeadlineResult(at, provisional=True)


def deadline_for(start: datetime, limit: Mapping[str, Any]) -> DeadlineResult:
    """When `limit` counted from `start` falls due; provisional, with an alert, if guessed."""
    return _on_calendar(lambda calendar, settings: add_limit(start, limit, calendar, settings))


def limit_before(end: datetime, limit: Mapping[str, Any]) -> DeadlineResult:
    """The instant `limit` before `end` (e.g. 5 working days before now), in the city's
    working calendar; provisional, with an alert, where the calendar is missing."""
    return _on_calendar(lambda calendar, settings: subtract_limit(end, limit, calendar, settings))


def yellow_warning_for(start: datetime, due: datetime) -> DeadlineResult:
    """When the yellow warning of a deadline from `start` to `due` starts (WARNING_YELLOW)."""
    config = current_app.config
    return _on_calendar(
        lambda calendar, settings: yellow_warning_at(start, due, config, calendar, settings)
    )


def raise_calendar_alert(year: int) -> SystemAlert:
    """Open the `calendar:{year}` alert in the caller's session unless one is open; log it."""
    key = f"calendar:{year}"
    log.warning(
        "No working-day calendar for %s: a deadline was computed assuming Mon-Fri and "
        "flagged provisional; import the State Council schedule with "
        "`hotline calendar import`",
        year,
    )
    for pending in db.session.new:
        if isinstance(pending, SystemAlert) and pending.key == key and pending.resolved_at is None:
            return pending
    with db.session.no_autoflush:
        existing = db.session.scalars(
            select(SystemAlert)
            .where(SystemAlert.key == key, SystemAlert.resolved_at.is_(None))
            .order_by(SystemAlert.id)
            .limit(1)
        ).first()
    if existing is not None:
        return existing
    alert = SystemAlert(
        kind=ALERT_KIND,
        key=key,
        message=(
            f"缺少 {year} 年节假日安排数据：涉及该年的办理期限暂按周一至周五计算并标记为“暂定”。"
            f"请用 `hotline calendar import` 导入国务院办公厅关于 {year} 年部分节假日安排的通知。\n"
            f"No working-day calendar for {year}: deadlines reaching it are provisional "
            f"(Mon-Fri assumed). Import the State Council schedule with "
            f"`hotline calendar import`."
        ),
    )
    db.session.add(alert)
    return alert


def preview(ticket_type: str, urgency: str, received_at: datetime) -> dict[str, Any]:
    """The sign and handling deadlines a ticket received at `received_at` would get.

    Both are counted from `received_at` (as if dispatched at once). Times are aware UTC
    datetimes; the API formats them. A preview only reads, except that when it had to
    assume a year it commits the calendar alert it opened, so operators hear of it.
    """
    if ticket_type not in set(TicketType):
        raise InvalidInput(f"unknown ticket type {ticket_type!r}", "工单类型无效", field="type")
    if urgency not in set(Urgency):
        raise InvalidInput(f"unknown urgency {urgency!r}", "紧急程度无效", field="urgency")
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise InvalidInput(
            "received_at needs a time zone offset", "受理时间须带时区", field="received_at"
        )
    config = current_app.config
    sign = deadline_for(received_at, sign_limit(config, urgency))
    due = deadline_for(received_at, handling_limit(config, ticket_type, urgency))
    provisional = sign.provisional or due.provisional
    if provisional:
        db.session.commit()
    return {"sign_due_at": sign.at, "due_at": due.at, "provisional": provisional}


# --- imports ----------------------------------------------------------------------


def import_calendar(path: str | os.PathLike[str]) -> ImportSummary:
    """Replace one year's schedule from a file, resolve its alert, fix provisional deadlines.

    One transaction: a refused file (ImportFailed, every problem listed) or any error
    leaves the database as it was.
    """
    schedule = read_schedule(path)
    try:
        summary = _store_schedule(schedule)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        invalidate_calendar_cache()
    log.info(
        "calendar %s imported from %s: %s days off, %s make-up days, %s tickets recomputed",
        summary.year,
        summary.source,
        summary.holidays,
        summary.workdays,
        summary.tickets_recomputed,
    )
    return summary


def _store_schedule(schedule: Schedule) -> ImportSummary:
    year = schedule.year
    db.session.execute(
        delete(CalendarDay)
        .where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
        .execution_options(synchronize_session="fetch")
    )
    db.session.add_all(
        CalendarDay(day=day, is_workday=entry.is_workday, name=entry.name)
        for day, entry in schedule.days.items()
    )
    now = utcnow()
    row = db.session.get(CalendarYear, year)
    if row is None:
        db.session.add(CalendarYear(year=year, source=schedule.source, imported_at=now))
    else:
        row.source = schedule.source
        row.imported_at = now
    alerts = db.session.scalars(
        select(SystemAlert).where(
            SystemAlert.kind == ALERT_KIND,
            SystemAlert.key == f"calendar:{year}",
            SystemAlert.resolved_at.is_(None),
        )
    ).all()
    for alert in alerts:
        alert.resolved_at = now
    db.session.flush()
    invalidate_calendar_cache()
    recomputed = recompute_provisional_deadlines()
    still = db.session.scalar(
        select(func.count(Ticket.id)).where(
            Ticket.deadline_provisional.is_(True), Ticket.status.in_(_open_statuses())
        )
    )
    return ImportSummary(
        year=year,
        source=schedule.source,
        holidays=schedule.holiday_count,
        workdays=schedule.workday_count,
        alerts_resolved=len(alerts),
        tickets_recomputed=recomputed,
        tickets_still_provisional=still or 0,
    )


def _open_statuses() -> list[str]:
    return sorted(str(status) for status in OPEN_STATUSES)


def recompute_provisional_deadlines() -> int:
    """Recompute the deadlines of open provisional tickets with today's calendar.

    Runs in the caller's transaction (no commit). Each ticket's deadlines are rebuilt
    from their base times the way the ticket services set them; the flag is cleared
    when none is a guess any more. Returns how many tickets were recomputed.
    """
    tickets = db.session.scalars(
        select(Ticket)
        .where(Ticket.deadline_provisional.is_(True), Ticket.status.in_(_open_statuses()))
        .order_by(Ticket.id)
        .with_for_update()
    ).all()
    for ticket in tickets:
        _recompute_ticket(ticket, current_app.config)
    return len(tickets)


def _recompute_ticket(ticket: Ticket, config: Mapping[str, Any]) -> None:
    before = _deadline_fields(ticket)
    provisional = False
    if ticket.due_at is not None:
        due = _handling_due(ticket, config)
        ticket.due_at = due.at
        provisional |= due.provisional
    for assignment in ticket.current_assignments():
        if assignment.sign_due_at is not None:
            sign = deadline_for(_sign_base(ticket, assignment), sign_limit(config, ticket.urgency))
            assignment.sign_due_at = sign.at
            provisional |= sign.provisional
        if assignment.send_back_due_at is not None:
            back = deadline_for(assignment.dispatched_at, send_back_limit(config, ticket.urgency))
            assignment.send_back_due_at = back.at
            provisional |= back.provisional
    if ticket.sign_due_at is not None and ticket.dispatched_at is not None:
        lead = ticket.lead_assignment()
        if lead is not None and lead.sign_due_at is not None:
            ticket.sign_due_at = lead.sign_due_at
        else:
            sign = deadline_for(ticket.dispatched_at, sign_limit(config, ticket.urgency))
            ticket.sign_due_at = sign.at
            provisional |= sign.provisional
    if ticket.visit_due_at is not None:
        approved_at = _reply_approved_at(ticket)
        if approved_at is not None:
            visit = deadline_for(approved_at, visit_limit(config))
            ticket.visit_due_at = visit.at
            provisional |= visit.provisional
    ticket.deadline_provisional = provisional
    after = _deadline_fields(ticket)
    changed = {key: value for key, value in after.items() if before.get(key) != value}
    record_event(
        "recompute_deadlines",
        actor=None,
        ticket=ticket,
        from_status=ticket.status,
        to_status=ticket.status,
        note="working-day calendar imported",
        data={"changed": changed, "provisional": provisional},
    )
    notify_on_commit(
        "ticket.updated",
        {"reference": ticket.reference, "status": ticket.status, "action": "recompute_deadlines"},
        rooms=["office", f"ticket:{ticket.reference}"]
        + [f"unit:{a.department.code}" for a in ticket.current_assignments()],
        ticket_id=ticket.id,
    )


def _deadline_fields(ticket: Ticket) -> dict[str, str | None]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "due_at": iso(ticket.due_at),
        "sign_due_at": iso(ticket.sign_due_at),
        "visit_due_at": iso(ticket.visit_due_at),
    }


def _handling_due(ticket: Ticket, config: Mapping[str, Any]) -> DeadlineResult:
    """Receipt (or the latest redo visit) plus the handling limit, then approved extensions."""
    base = ticket.received_at
    if ticket.redo_count:
        redo_times = [v.visited_at for v in ticket.visits if v.redo]
        if redo_times:
            base = max(redo_times)
    due = deadline_for(base, handling_limit(config, ticket.type, ticket.urgency))
    provisional = due.provisional
    at = due.at
    for extension in ticket.extensions:
        reviewed = extension.reviewed_at
        if extension.decision == "approved" and reviewed is not None and reviewed >= base:
            moved = deadline_for(at, {"amount": extension.days, "unit": "working_days"})
            at, provisional = moved.at, provisional or moved.provisional
    return DeadlineResult(at, provisional)


def _sign_base(ticket: Ticket, assignment: Assignment) -> datetime:
    """Dispatch, or a later refused send-back (the unit must sign again from then)."""
    base = assignment.dispatched_at
    for request in ticket.returns:
        reviewed = request.reviewed_at
        if (
            request.assignment_id == assignment.id
            and request.decision == "rejected"
            and reviewed is not None
            and reviewed > base
        ):
            base = reviewed
    return base


def _reply_approved_at(ticket: Ticket) -> datetime | None:
    """When the reply was approved, which starts the follow-up visit clock."""
    return db.session.scalar(
        select(Event.at)
        .where(
            Event.ticket_id == ticket.id,
            Event.action == "review_reply",
            Event.to_status == TicketStatus.PENDING_VISIT,
        )
        .order_by(Event.id.desc())
        .limit(1)
    )


# --- status -----------------------------------------------------------------------


def calendar_status(years: Iterable[int]) -> list[YearStatus]:
    """For each year: covered by an import, by the package, or missing."""
    wanted = sorted(set(years))
    imported = {
        row.year: row
        for row in db.session.scalars(select(CalendarYear).where(CalendarYear.year.in_(wanted)))
    }
    alert_keys = set(
        db.session.scalars(
            select(SystemAlert.key).where(
                SystemAlert.kind == ALERT_KIND, SystemAlert.resolved_at.is_(None)
            )
        )
    )
    statuses: list[YearStatus] = []
    for year in wanted:
        open_alert = f"calendar:{year}" in alert_keys
        row = imported.get(year)
        if row is not None:
            statuses.append(YearStatus(year, "import", row.source, row.imported_at, open_alert))
        elif package_covers(year):
            statuses.append(YearStatus(year, "package", PACKAGE_SOURCE, None, open_alert))
        else:
            statuses.append(YearStatus(year, "missing", None, None, open_alert))
    return statuses
