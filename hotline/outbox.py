"""Transactional outbox: work is written with the change and carried out after commit.

Services call `enqueue_on_commit` (an RQ job) or `notify_on_commit` (a Socket.IO
push). Both only add a row to the current transaction, so a rollback drops them
and a commit can never be followed by a push for a row that does not exist.
After commit the relay hands rows to Redis; if Redis is down the rows wait and
`relay_pending` (run by every worker) catches up.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from hotline.extensions import db
from hotline.models import OutboxItem, utcnow

log = logging.getLogger(__name__)
PENDING_KEY = "outbox_pending"
# A claim older than this was left by a relay that stopped mid-batch.
CLAIM_TIMEOUT = timedelta(minutes=2)


def enqueue_on_commit(job_name: str, *, ticket_id: int | None = None, **payload: Any) -> None:
    """Run `hotline.jobs.<job_name>(**payload)` on a worker after this transaction commits."""
    _add(OutboxItem(kind="job", name=job_name, payload=payload, ticket_id=ticket_id))


def notify_on_commit(
    event_name: str, payload: dict[str, Any], *, rooms: list[str], ticket_id: int | None = None
) -> None:
    """Push `event_name` to Socket.IO rooms after this transaction commits."""
    for room in rooms:
        _add(
            OutboxItem(
                kind="push", name=event_name, room=room, payload=payload, ticket_id=ticket_id
            )
        )


def _add(item: OutboxItem) -> None:
    db.session.add(item)
    db.session.info[PENDING_KEY] = True


@event.listens_for(Session, "after_commit")
def _relay_after_commit(session: Session) -> None:
    if not session.info.pop(PENDING_KEY, False):
        return
    try:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    except RuntimeError:
        return
    if app.config.get("OUTBOX_RELAY_ON_COMMIT", True):
        # The committed session cannot run SQL now; the relay opens its own.
        relay_pending(limit=200)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


def relay_pending(limit: int = 500) -> int:
    """Hand unrelayed outbox rows to Redis, a batch at a time; returns how many.

    Safe in several processes at once: a batch is claimed with one conditional UPDATE
    (rows another relay holds are skipped), jobs go to RQ in one pipeline with job ids
    `outbox-<id>`, pushes are published one by one, and the rows handed over are marked
    relayed in one more statement. If Redis fails, the rows not handed over are
    released with the error and wait for the next round; a claim left by a process
    that stopped is taken again after CLAIM_TIMEOUT (a job may then be enqueued twice
    under the same id: jobs are idempotent, and clients drop a push they already have).
    """
    now = utcnow()
    takeable = (OutboxItem.relayed_at.is_(None)) & (
        OutboxItem.claimed_at.is_(None) | (OutboxItem.claimed_at < now - CLAIM_TIMEOUT)
    )
    with Session(db.engine) as session:
        ids = session.scalars(
            select(OutboxItem.id).where(takeable).order_by(OutboxItem.id).limit(limit)
        ).all()
        if not ids:
            session.rollback()
            return 0
        claimed = session.scalars(
            update(OutboxItem)
            .where(OutboxItem.id.in_(ids), takeable)
            .values(claimed_at=now, attempts=OutboxItem.attempts + 1)
            .returning(OutboxItem.id)
        ).all()
        session.commit()
        rows = session.execute(
            select(
                OutboxItem.id, OutboxItem.kind, OutboxItem.name, OutboxItem.room, OutboxItem.payload
            )
            .where(OutboxItem.id.in_(claimed))
            .order_by(OutboxItem.id)
        ).all()
        session.rollback()
    handed, problem = _hand_over(rows)
    with Session(db.engine) as session:
        if handed:
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_(handed))
                .values(relayed_at=utcnow(), last_error=None)
            )
        left = [row.id for row in rows if row.id not in set(handed)]
        if left:
            log.warning("outbox: %d item(s) not relayed yet: %s", len(left), problem)
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_(left))
                .values(claimed_at=None, last_error=str(problem)[:500])
            )
        session.commit()
    return len(handed)


def _hand_over(rows: list[Any]) -> tuple[list[int], Exception | None]:
    """Publish the pushes, then enqueue the jobs in one pipeline; returns the ids handed
    over and the problem that stopped the rest (None when all went)."""
    from hotline import queue, realtime

    handed: list[int] = []
    try:
        for row in rows:
            if row.kind != "job":
                realtime.publish(row.name, row.payload, room=row.room, outbox_id=row.id)
                handed.append(row.id)
        jobs = [row for row in rows if row.kind == "job"]
        if jobs:
            queue.enqueue_outbox_jobs([(row.id, row.name, row.payload) for row in jobs])
            handed.extend(row.id for row in jobs)
    except Exception as exc:  # Redis down: what was not handed over waits for next round
        return handed, exc
    return handed, None
