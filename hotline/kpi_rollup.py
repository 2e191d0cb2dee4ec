"""The figures' daily rollup: each ended city day's counts per group, kept by the worker,
so a month or a quarter is a sum over a few thousand rows instead of aggregates over
every ticket, call and visit in it.

- `gather` answers for any [start, end): whole days that are built and unchanged come
  from `kpi_rollup`; today, the period's partial edges, days not built yet and days
  changed since they were built are counted live (hotline.kpi's aggregates), so a
  figure never waits for the worker and never goes stale.
- Changes to a day that has ended (a late reply, a visit, a re-classification, a
  returned ticket) are logged in `kpi_change` at flush; `refresh` (run after each
  deadline sweep) builds those days again, then days never built, newest first,
  KPI_ROLLUP_DAYS_PER_ROUND at a time. A day is built once it has been over for
  KPI_ROLLUP_SETTLE_S, so a transaction still open at midnight is in it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import and_, delete, event, func, inspect, or_, select, text
from sqlalchemy.orm import Session

from hotline.extensions import db
from hotline.kpi import GROUPS, PARTS, Figures, Span
from hotline.models import (
    Assignment,
    CallRecord,
    KpiChange,
    KpiRollup,
    KpiRollupDay,
    ReturnRequest,
    Ticket,
    Visit,
    utcnow,
)
from hotline.models.ops import KPI_COUNTS

log = logging.getLogger(__name__)
# Groups whose keys are row ids (stored as text in the rollup); the others are codes.
_ID_GROUPS = {"department", "category", "territory", "agent"}
Found = dict[tuple[str | None, Any], Figures]
_LOCK = 0x6B7069  # the rollup builder's advisory lock key


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def local_today() -> date:
    return utcnow().astimezone(_zone()).date()


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), _zone())


def live(start: datetime, end: datetime, group_by: str | None, by_day: bool = False) -> Found:
    """Every count for [start, end) straight from the tables."""
    found: Found = {}
    for part in PARTS:
        part(found, group_by, Span(start, end, by_day))
    return found


def _merge(into: Found, found: Found) -> None:
    for key, figures in found.items():
        target = into.setdefault(key, Figures())
        for name, value in figures.counts.items():
            target.add(name, value)


def _runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) runs."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _usable(start: datetime, end: datetime) -> list[date]:
    """The whole days of [start, end) whose built rollup still holds."""
    zone = _zone()
    first = start.astimezone(zone).date()
    if day_start(first) < start:
        first += timedelta(days=1)
    last = end.astimezone(zone).date() - timedelta(days=1)  # `end`'s own day is partial
    last = min(last, utcnow().astimezone(zone).date() - timedelta(days=1))
    if last < first:
        return []
    built = db.session.scalars(
        select(KpiRollupDay.day).where(KpiRollupDay.day >= first, KpiRollupDay.day <= last)
    ).all()
    changed = db.session.scalars(
        select(KpiChange.day).where(KpiChange.day >= first, KpiChange.day <= last).distinct()
    ).all()
    return sorted(set(built) - set(changed))


def _group_key(group_by: str | None, stored: str) -> Any:
    if stored == "":
        return None
    return int(stored) if group_by in _ID_GROUPS else stored


def _read(runs: list[tuple[date, date]], group_by: str | None, by_day: bool) -> Found:
    keys: list[Any] = [KpiRollup.day] if by_day else []
    keys.append(KpiRollup.group_key)
    sums = [func.sum(getattr(KpiRollup, name)) for name in KPI_COUNTS]
    statement = (
        select(*keys, *sums)
        .where(
            KpiRollup.group_by == (group_by or ""),
            or_(*(and_(KpiRollup.day >= a, KpiRollup.day <= b) for a, b in runs)),
        )
        .group_by(*keys)
    )
    found: Found = {}
    for row in db.session.execute(statement):
        values = list(row)
        day = values.pop(0).isoformat() if by_day else None
        group = _group_key(group_by, values.pop(0))
        figures = found.setdefault((day, group), Figures())
        for name, value in zip(KPI_COUNTS, values, strict=True):
            if value:
                figures.add(name, value)
    return found


def gather(start: datetime, end: datetime, group_by: str | None, by_day: bool = False) -> Found:
    """Every count for [start, end) per group (and per city day if `by_day`), keyed
    (day or None, group key or None): the built days from the rollup, the rest live."""
    runs = _runs(_usable(start, end))
    found: Found = {}
    cursor = start
    for first, last in runs:
        if day_start(first) > cursor:
            _merge(found, live(cursor, day_start(first), group_by, by_day))
        cursor = day_start(last + timedelta(days=1))
    if cursor < end:
        _merge(found, live(cursor, end, group_by, by_day))
    if runs:
        _merge(found, _read(runs, group_by, by_day))
    return found


def build(first: date, last: date) -> None:
    """(Re)build the rollup of the days first..last in the caller's transaction."""
    start, end = day_start(first), day_start(last + timedelta(days=1))
    db.session.execute(delete(KpiRollup).where(KpiRollup.day >= first, KpiRollup.day <= last))
    db.session.execute(
        delete(KpiRollupDay).where(KpiRollupDay.day >= first, KpiRollupDay.day <= last)
    )
    rows: list[dict[str, Any]] = []
    for group_by in (None, *GROUPS):
        for (day, key), figures in live(start, end, group_by, by_day=True).items():
            counts = {name: int(figures.counts.get(name, 0)) for name in KPI_COUNTS}
            if not any(counts.values()):
                continue
            rows.append(
                {
                    "day": date.fromisoformat(str(day)),
                    "group_by": group_by or "",
                    "group_key": "" if key is None else str(key),
                    **counts,
                }
            )
    if rows:
        db.session.execute(KpiRollup.__table__.insert(), rows)
    now = utcnow()
    db.session.execute(
        KpiRollupDay.__table__.insert(),
        [
            {"day": first + timedelta(days=n), "built_at": now}
            for n in range((last - first).days + 1)
        ],
    )


def _earliest() -> date | None:
    found = [
        db.session.scalar(select(func.min(Ticket.received_at))),
        db.session.scalar(select(func.min(CallRecord.started_at))),
    ]
    times = [t for t in found if t is not None]
    return min(times).astimezone(_zone()).date() if times else None


def refresh(limit: int | None = None) -> list[date]:
    """Build the days changed since they were built, then days never built (newest
    first), at most `limit` (KPI_ROLLUP_DAYS_PER_ROUND) days; commits. Returns them."""
    config = current_app.config
    limit = int(config["KPI_ROLLUP_DAYS_PER_ROUND"] if limit is None else limit)
    # One builder at a time (a slow round overlapping the next); SQLite's writer lock
    # does the same there.
    locking = text("SELECT pg_try_advisory_xact_lock(:key)")
    if db.engine.dialect.name == "postgresql" and not db.session.scalar(locking, {"key": _LOCK}):
        return []
    zone = _zone()
    settled = utcnow() - timedelta(seconds=int(config["KPI_ROLLUP_SETTLE_S"]))
    last = settled.astimezone(zone).date() - timedelta(days=1)
    changes = db.session.execute(
        select(KpiChange.id, KpiChange.day).where(KpiChange.day <= last).order_by(KpiChange.id)
    ).all()
    changed = sorted({day for _id, day in changes}, reverse=True)
    todo = changed[:limit]
    earliest = _earliest()
    if earliest is not None and len(todo) < limit:
        built = set(
            db.session.scalars(
                select(KpiRollupDay.day).where(
                    KpiRollupDay.day >= earliest, KpiRollupDay.day <= last
                )
            ).all()
        )
        day = last
        while day >= earliest and len(todo) < limit:
            if day not in built and day not in todo:
                todo.append(day)
            day -= timedelta(days=1)
    for first, final in _runs(todo):
        build(first, final)
    done = set(todo)
    ids = [change_id for change_id, day in changes if day in done]
    for n in range(0, len(ids), 500):
        db.session.execute(delete(KpiChange).where(KpiChange.id.in_(ids[n : n + 500])))
    db.session.commit()
    if todo:
        log.info("figures' rollup built for %d day(s)", len(todo))
    return sorted(todo)


# --- logging changes to days that have ended -------------------------------------------

_TICKET_GROUPS = ("department_id", "category_id", "territory_id", "channel", "type")
# What each model's figures read: a change to one of these changes its day's counts.
_TICKET = (
    "received_at",
    "closed_at",
    "due_at",
    "dispatched_at",
    "replied_at",
    "status",
    "disposition",
    "is_repeat",
    "first_contact_at",
    "accepted_by_id",
    *_TICKET_GROUPS,
)
_WATCHED: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # model: (attributes read, time attributes that place it on a day)
    Ticket: (_TICKET, ("received_at", "closed_at", "due_at", "dispatched_at")),
    Assignment: (
        ("dispatched_at", "signed_at", "sign_due_at", "department_id", "dispatched_by_id"),
        ("dispatched_at",),
    ),
    ReturnRequest: (
        ("requested_at", "decision", "wrongful", "department_id", "requested_by_id"),
        ("requested_at",),
    ),
    Visit: (
        (
            "visited_at",
            "reached",
            "satisfaction",
            "solved",
            "redo",
            "timely_contact",
            "ticket_id",
        ),
        ("visited_at",),
    ),
    CallRecord: (
        (
            "started_at",
            "queued_at",
            "answered_at",
            "abandoned",
            "queue_wait_s",
            "duration_s",
            "agent_id",
            "emergency_line",
            "data",
        ),
        ("started_at",),
    ),
}


def _times(state: Any, names: tuple[str, ...], new: bool) -> list[datetime]:
    found: list[datetime] = []
    for name in names:
        history = state.attrs[name].history
        values = [*history.added, *history.deleted, *(history.unchanged if not new else ())]
        found += [v for v in values if isinstance(v, datetime)]
    return found


def _ticket_days(session: Session, ticket_ids: set[int]) -> list[datetime]:
    """The times of a ticket's assignments, send-backs and visits (grouped by the
    ticket's unit, category …: a re-classified ticket moves them too)."""
    times: list[datetime] = []
    for column, owner in (
        (Assignment.dispatched_at, Assignment.ticket_id),
        (ReturnRequest.requested_at, ReturnRequest.ticket_id),
        (Visit.visited_at, Visit.ticket_id),
    ):
        times += session.scalars(select(column).where(owner.in_(ticket_ids))).all()
    return [t for t in times if t is not None]


@event.listens_for(Session, "before_flush")
def _log_changes(session: Session, _context: Any, _instances: Any) -> None:
    if not has_app_context():
        return
    times: list[datetime] = []
    moved: set[int] = set()  # tickets whose other rows are grouped differently now
    revisited: set[int] = set()  # tickets with a new reached visit (replacing older ones)
    for item in [*session.new, *session.dirty, *session.deleted]:
        watched = _WATCHED.get(type(item))
        if watched is None:
            continue
        state: Any = inspect(item)
        new = item in session.new
        changed = any(state.attrs[n].history.has_changes() for n in watched[0])
        if not (new or changed or item in session.deleted):
            continue
        times += _times(state, watched[1], new)
        if isinstance(item, Ticket) and not new and item.id is not None:
            if any(state.attrs[n].history.has_changes() for n in (*_TICKET_GROUPS, "due_at")):
                moved.add(item.id)
            if state.attrs["first_contact_at"].history.has_changes():
                moved.add(item.id)
        if isinstance(item, Visit) and new and item.reached and item.ticket_id is not None:
            revisited.add(item.ticket_id)
    if not times and not moved and not revisited:
        return
    now = utcnow()
    zone = _zone()
    with session.no_autoflush:
        if moved:
            times += _ticket_days(session, moved)
        if revisited:
            times += session.scalars(
                select(Visit.visited_at).where(Visit.ticket_id.in_(revisited))
            ).all()
    today = now.astimezone(zone).date()
    # Only days that have ended: today (and later) is always counted live.
    days = {(t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(zone).date() for t in times}
    for day in sorted(d for d in days if d < today):
        session.add(KpiChange(day=day))
