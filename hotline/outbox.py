"""Transactional outbox: work is written with the change and carried out after commit.

Services call `enqueue_on_commit` (an RQ job) or `notify_on_commit` (a Socket.IO
push). Both only add a row to the current transaction, so a rollback drops them
and a commit can never be followed by a push for a row that does not exist.
After commit the relay hands rows to Redis; if Redis is down the rows wait and
`relay_pending` (run by every worker) catches up.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from hotline.extensions import db
from hotline.models import OutboxItem, utcnow

log = logging.getLogger(__name__)
PENDING_KEY = "outbox_pending"


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
    """Hand unrelayed outbox rows to Redis; returns how many were relayed.

    Safe to run in several processes at once: each row is claimed with a
    conditional UPDATE, and job ids are `outbox-<id>` so RQ never runs one twice.
    """
    from hotline import queue, realtime

    relayed = 0
    with Session(db.engine) as session:
        ids = session.scalars(
            select(OutboxItem.id)
            .where(OutboxItem.relayed_at.is_(None))
            .order_by(OutboxItem.id)
            .limit(limit)
        ).all()
        session.rollback()
    for item_id in ids:
        with Session(db.engine) as session:
            item = session.get(OutboxItem, item_id)
            if item is None or item.relayed_at is not None:
                continue
            try:
                if item.kind == "job":
                    queue.enqueue_outbox_job(item.id, item.name, item.payload)
                else:
                    realtime.publish(item.name, item.payload, room=item.room, outbox_id=item.id)
            except Exception as exc:  # Redis down: keep the row, try again later
                log.warning("outbox %s not relayed yet: %s", item.id, exc)
                session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id == item_id)
                    .values(attempts=OutboxItem.attempts + 1, last_error=str(exc)[:500])
                )
                session.commit()
                break
            claimed = session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item_id, OutboxItem.relayed_at.is_(None))
                .values(relayed_at=utcnow(), attempts=OutboxItem.attempts + 1)
            ).rowcount
            session.commit()
            relayed += claimed
    return relayed
