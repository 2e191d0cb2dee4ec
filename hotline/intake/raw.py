"""Nothing is lost: the raw inbound payload is committed before any other work, and a
replay re-runs whatever did not finish (a crash, the database or Redis down)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hotline.extensions import db
from hotline.models import InboundRequest, Ticket, utcnow

log = logging.getLogger(__name__)

# channel -> function(payload) that finishes the work and returns the ticket it touched
Processor = Callable[[dict[str, Any]], Ticket | None]
PROCESSORS: dict[str, Processor] = {}


def processor(channel: str) -> Callable[[Processor], Processor]:
    """Register the function that turns a stored payload of `channel` into its effect."""

    def register(fn: Processor) -> Processor:
        PROCESSORS[channel] = fn
        return fn

    return register


def store_inbound(
    channel: str, payload: dict[str, Any], dedupe_key: str | None = None
) -> tuple[InboundRequest, bool]:
    """Commit the payload now; returns (row, first_time). A repeat of `dedupe_key`
    (a provider's retry) returns the row stored the first time."""
    if dedupe_key:
        earlier = db.session.scalar(
            select(InboundRequest).where(InboundRequest.dedupe_key == dedupe_key)
        )
        if earlier is not None:
            return earlier, False
    row = InboundRequest(
        channel=channel,
        dedupe_key=dedupe_key,
        payload=json.dumps(payload, ensure_ascii=False, sort_keys=True),
    )
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # a concurrent retry stored it first
        earlier = db.session.scalar(
            select(InboundRequest).where(InboundRequest.dedupe_key == dedupe_key)
        )
        if earlier is None:
            raise
        return earlier, False
    return row, True


def payload_of(row: InboundRequest) -> dict[str, Any]:
    return dict(json.loads(row.payload))


def mark_processed(row: InboundRequest, ticket: Ticket | None) -> None:
    """Call inside the transaction that did the work, so both commit together."""
    row.processed_at = utcnow()
    row.error = None
    if ticket is not None:
        row.ticket_id = ticket.id


def process(row: InboundRequest) -> Ticket | None:
    """Run the channel's processor for a stored row (once: processed rows are skipped)."""
    if row.processed_at is not None:
        return db.session.get(Ticket, row.ticket_id) if row.ticket_id else None
    handler = PROCESSORS.get(row.channel)
    if handler is None:
        raise LookupError(f"no processor for inbound channel {row.channel!r}")
    row_id = row.id
    try:
        ticket = handler(payload_of(row))
        row = db.session.get(InboundRequest, row_id)  # type: ignore[assignment]
        mark_processed(row, ticket)
        db.session.commit()
        return ticket
    except Exception as exc:
        db.session.rollback()
        failed = db.session.get(InboundRequest, row_id)
        if failed is not None:
            failed.attempts += 1
            failed.error = f"{exc.__class__.__name__}: {exc}"[:2000]
            db.session.commit()
        raise


def replay_unprocessed(older_than: timedelta = timedelta(seconds=30), limit: int = 200) -> int:
    """Finish stored requests whose processing never completed; returns how many."""
    cutoff = utcnow() - older_than
    ids = db.session.scalars(
        select(InboundRequest.id)
        .where(InboundRequest.processed_at.is_(None), InboundRequest.received_at < cutoff)
        .order_by(InboundRequest.id)
        .limit(limit)
    ).all()
    done = 0
    for row_id in ids:
        row = db.session.get(InboundRequest, row_id)
        if row is None or row.channel not in PROCESSORS:
            continue
        try:
            process(row)
            done += 1
        except Exception:  # logged and counted on the row; the next replay tries again
            log.exception("inbound request %s could not be processed", row_id)
    return done
