"""The deadline sweep (限时办结): every deadline's warning and escalation, raised once.

For each open ticket still with a unit:

- `sign_yellow` / `due_yellow`: the yellow warning of the sign and handling deadlines
  (WARNING_YELLOW; the times are kept beside the deadlines, hotline.tickets.warnings);
- `sign_red`: not signed by the sign deadline;
- `due_red`: overdue; the unit is urged automatically (自动催办);
- `supervise`: overdue by SUPERVISE_AFTER_OVERDUE_DAYS working days; supervision
  (督办) is opened automatically and the supervisors are told;

and for the hotline centre, `return_review` / `extension_review`: a send-back or an
extension request waiting longer than REVIEW_REMINDER_AFTER for its review; and the
follow-up visits' SMS surveys (hotline.visits).

Each candidate query is a range of an index (status + deadline), skipping what was
already raised. Raising claims a `DeadlineAlert` row (ticket, kind, deadline) with an
INSERT … ON CONFLICT DO NOTHING in the same transaction as its effects, so a sweep run
twice, or by several workers at once, raises each alert exactly once; a deadline that
moves (an extension, a redo) is a new deadline and warns again. The sweep is started
by RQ's scheduler (`hotline.jobs.sweep_deadlines`, see `schedule_sweep`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import exists, select

from hotline.database import insert_once
from hotline.extensions import db
from hotline.models import (
    DeadlineAlert,
    ExtensionRequest,
    ReturnRequest,
    Ticket,
    utcnow,
)
from hotline.models.enums import TicketStatus
from hotline.outbox import notify_on_commit

log = logging.getLogger(__name__)

S = TicketStatus
# Where a unit's handling clock runs (the sign clock only while unsigned).
HANDLING = (S.PENDING_SIGN, S.IN_PROGRESS, S.EXTENSION_REVIEW)
BATCH = 500
FILL_BATCHES = 200  # a full round fills in up to 100,000 missing warning times
NOTES = {
    "sign_yellow": "签收时限即将届满（黄牌预警）",
    "sign_red": "已超过签收时限（红牌）",
    "due_yellow": "办理时限即将届满（黄牌预警）",
    "due_red": "已超过办理时限（红牌），系统自动催办",
    "supervise": "超期 {days} 个工作日仍未办结，系统自动督办",
    "return_review": "退单申请待审核已超过提醒时限",
    "extension_review": "延期申请待审核已超过提醒时限",
}


def claim(ticket: Ticket, kind: str, deadline: datetime) -> bool:
    """Take the (ticket, kind, deadline) alert for this transaction; False when it has
    been raised already (by an earlier round or another worker)."""
    raised = insert_once(
        DeadlineAlert,
        ["ticket_id", "kind", "deadline"],
        ticket_id=ticket.id,
        kind=kind,
        deadline=deadline,
        department_id=ticket.department_id,
        raised_at=utcnow(),
    )
    return raised is not None


def _not_raised(kind: str, deadline_column: Any) -> Any:
    return ~exists().where(
        DeadlineAlert.ticket_id == Ticket.id,
        DeadlineAlert.kind == kind,
        DeadlineAlert.deadline == deadline_column,
    )


def _tell(ticket: Ticket, kind: str, deadline: datetime, note: str) -> None:
    """The warning on the ticket's history (pushed to its unit and the centre), and an
    alert for the unit and the supervisors' screens."""
    from hotline.tickets.common import record

    record(ticket, "deadline_alert", None, note=note, kind=kind, deadline=deadline)
    rooms = ["supervisors", *(f"unit:{a.department.code}" for a in ticket.current_assignments())]
    alert = {"reference": ticket.reference, "kind": kind, "deadline": deadline.isoformat()}
    notify_on_commit("deadline.alert", alert, rooms=rooms, ticket_id=ticket.id)


def _each(
    query: Any, kind: str, column: Any, statuses: tuple[str, ...], act: Callable[..., None]
) -> int:
    """Raise `kind` for each ticket of `query` (batch by batch) at the deadline held in
    `column`; returns how many. Under the ticket's lock the state and the deadline are
    read again: a ticket signed, replied or given a new deadline since the query is
    left for the round that finds it as it is now."""
    raised = 0
    found = db.session.execute(
        query.with_only_columns(Ticket.id, column).order_by(Ticket.id).limit(BATCH)
    ).all()
    db.session.rollback()
    for ticket_id, deadline in found:
        ticket = db.session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
        if (
            ticket is None
            or ticket.status not in statuses
            or getattr(ticket, column.key) != deadline
            or not claim(ticket, kind, deadline)
        ):
            db.session.rollback()
            continue
        try:
            act(ticket, kind, deadline)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception(
                "deadline sweep: %s on ticket %s failed; next round retries", kind, ticket_id
            )
            continue
        raised += 1
    return raised


def _warn(ticket: Ticket, kind: str, deadline: datetime) -> None:
    _tell(ticket, kind, deadline, NOTES[kind])


def _urge(ticket: Ticket, kind: str, deadline: datetime) -> None:
    from hotline.tickets.supervision import supervise_ticket

    _tell(ticket, kind, deadline, NOTES[kind])
    supervise_ticket(ticket.reference, None, kind="urge", note=NOTES[kind], automatic=True)


def _supervise(ticket: Ticket, kind: str, deadline: datetime) -> None:
    from hotline.tickets.supervision import supervise_ticket

    days = current_app.config["SUPERVISE_AFTER_OVERDUE_DAYS"]
    note = NOTES[kind].format(days=days)
    _tell(ticket, kind, deadline, note)
    supervise_ticket(ticket.reference, None, kind="supervise", note=note, automatic=True)


def fill_missing_warnings(limit: int = BATCH) -> int:
    """Warning times for open tickets that have a deadline but none yet (rows from
    before they were kept); returns how many tickets were filled."""
    from hotline.tickets.warnings import fill

    tickets = db.session.scalars(
        select(Ticket)
        .where(
            Ticket.status.in_(HANDLING),
            ((Ticket.sign_due_at.is_not(None)) & Ticket.sign_warn_at.is_(None))
            | ((Ticket.due_at.is_not(None)) & Ticket.due_warn_at.is_(None)),
        )
        .limit(limit)
    ).all()
    for ticket in tickets:
        fill(ticket)
    db.session.commit()
    return len(tickets)


def _reviews(model: Any, kind: str, status: str, now: datetime) -> int:
    """Remind the centre of requests waiting for review past REVIEW_REMINDER_AFTER."""
    from hotline.clock.service import limit_before

    waited_since = limit_before(now, current_app.config["REVIEW_REMINDER_AFTER"]).at
    rows = db.session.execute(
        select(model.ticket_id, model.requested_at)
        .join(Ticket, Ticket.id == model.ticket_id)
        .where(
            model.decision == "pending",
            Ticket.status == status,
            model.requested_at <= waited_since,
            _not_raised(kind, model.requested_at),
        )
        .order_by(model.requested_at)
        .limit(BATCH)
    ).all()
    db.session.rollback()
    raised = 0
    for ticket_id, requested_at in rows:
        ticket = db.session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
        if ticket is None or ticket.status != status or not claim(ticket, kind, requested_at):
            db.session.rollback()
            continue
        from hotline.tickets.common import record

        record(ticket, "deadline_alert", None, note=NOTES[kind], kind=kind)
        notify_on_commit(
            "review.reminder",
            {"reference": ticket.reference, "kind": kind, "since": requested_at.isoformat()},
            rooms=["office"],
            ticket_id=ticket.id,
        )
        db.session.commit()
        raised += 1
    return raised


def sweep(now: datetime | None = None, *, full: bool = True) -> dict[str, int]:
    """One round over every deadline; returns how many of each kind were raised.

    A full round looks at every deadline passed; the scheduler's other rounds only at
    those passed within SWEEP_LOOKBACK (what the last minutes brought), which keeps a
    round small however many tickets are long overdue. Every SWEEP_FULL_EVERY-th
    scheduled round is full, so a worker outage longer than the lookback is caught up.
    """
    from hotline.clock.service import limit_before

    now = now or utcnow()
    since = None if full else now - timedelta(seconds=int(current_app.config["SWEEP_LOOKBACK_S"]))

    def window(column: Any, until: datetime) -> Any:
        return (column <= until) if since is None else column.between(since, until)

    filled = 0
    if full:  # rows from before the times were kept: all of them, a batch at a time
        for _ in range(FILL_BATCHES):
            batch = fill_missing_warnings()
            filled += batch
            if batch < BATCH:
                break
    report = {"filled": filled}
    # kind, the clock's states, the deadline, when it is raised, its action
    cards = (
        ("sign_red", (S.PENDING_SIGN,), Ticket.sign_due_at, Ticket.sign_due_at, _warn),
        ("sign_yellow", (S.PENDING_SIGN,), Ticket.sign_due_at, Ticket.sign_warn_at, _warn),
        ("due_red", HANDLING, Ticket.due_at, Ticket.due_at, _urge),
        ("due_yellow", HANDLING, Ticket.due_at, Ticket.due_warn_at, _warn),
    )
    for kind, states, deadline, raised_at, act in cards:
        query = select(Ticket).where(
            Ticket.status.in_(states),
            window(raised_at, now),
            _not_raised(kind, deadline),
            # A warning only while its deadline is ahead (after it, the red card).
            *([deadline > now] if raised_at is not deadline else []),
        )
        report[kind] = _each(query, kind, deadline, states, act)
    handling = select(Ticket).where(Ticket.status.in_(HANDLING))
    days = int(current_app.config["SUPERVISE_AFTER_OVERDUE_DAYS"])
    if days > 0:
        overdue_since = limit_before(now, {"amount": days, "unit": "working_days"}).at
        if since is not None:  # the same lookback, counted back from the threshold
            since = overdue_since - (now - since)
        report["supervise"] = _each(
            handling.where(
                window(Ticket.due_at, overdue_since), _not_raised("supervise", Ticket.due_at)
            ),
            "supervise",
            Ticket.due_at,
            HANDLING,
            _supervise,
        )
    from hotline.hotspots import sweep_hotspots
    from hotline.visits import sweep_visits

    # One part failing (a database hiccup) must not stop the others: each is retried
    # by the next round.
    parts: tuple[tuple[str, Callable[[], Any]], ...] = (
        ("visits", lambda: report.update(sweep_visits(now))),
        ("hotspots", lambda: report.update(sweep_hotspots(now, full=full))),
        (
            "return_review",
            lambda: report.update(
                return_review=_reviews(ReturnRequest, "return_review", S.RETURN_REVIEW, now)
            ),
        ),
        (
            "extension_review",
            lambda: report.update(
                extension_review=_reviews(
                    ExtensionRequest, "extension_review", S.EXTENSION_REVIEW, now
                )
            ),
        ),
    )
    for name, part in parts:
        try:
            part()
        except Exception:
            db.session.rollback()
            log.exception("deadline sweep: %s failed; the next round retries", name)
    raised = {kind: n for kind, n in report.items() if n}
    if raised:
        log.info("deadline sweep: %s", ", ".join(f"{k} {n}" for k, n in raised.items()))
    return report


def schedule_sweep() -> str | None:
    """Make sure RQ's scheduler starts a sweep at the next SWEEP_INTERVAL_S boundary
    (job id `sweep-<slot>`: every worker asks, one job runs). Returns the job id, or
    None when that sweep is already scheduled or done."""
    import time
    from datetime import UTC

    from rq.job import Job

    from hotline.queue import get_queue, redis_connection

    interval = max(5, int(current_app.config["SWEEP_INTERVAL_S"]))
    slot = int(time.time() // interval) + 1
    job_id = f"sweep-{slot}"
    if Job.exists(job_id, connection=redis_connection()):
        return None
    every = max(1, int(current_app.config["SWEEP_FULL_EVERY"]))
    get_queue().enqueue_at(
        datetime.fromtimestamp(slot * interval, UTC),
        "hotline.jobs.sweep_deadlines",
        full=slot % every == 0,
        job_id=job_id,
        result_ttl=interval * 10,
        failure_ttl=7 * 24 * 3600,
    )
    return job_id
