"""The tamper-evident event log: append with a hash chain, verify the chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from hotline.extensions import db
from hotline.models import AuditChainHead, Event, Ticket, User, utcnow

GENESIS = "0" * 64


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _fields(event: Event) -> dict[str, Any]:
    at = event.at
    return {
        "ticket_id": event.ticket_id,
        "action": event.action,
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "actor_role": event.actor_role,
        "department_id": event.department_id,
        "at": at.isoformat() if isinstance(at, datetime) else at,
        "from": event.from_status,
        "to": event.to_status,
        "note": event.note,
        "data": event.data or {},
    }


def _lock_head() -> AuditChainHead:
    head = db.session.scalar(select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update())
    if head is None:
        head = AuditChainHead(id=1, last_event_id=None, last_hash=GENESIS)
        db.session.add(head)
        db.session.flush()
    return head


def record_event(
    action: str,
    *,
    actor: User | None,
    ticket: Ticket | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    department_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """Append one event in the caller's transaction (caller holds the ticket's row lock)."""
    head = _lock_head()
    now = utcnow()
    event = Event(
        ticket_id=ticket.id if ticket is not None else None,
        action=action,
        actor_id=actor.id if actor is not None else None,
        actor_name=actor.username if actor is not None else "system",
        actor_role=actor.role if actor is not None else None,
        department_id=department_id,
        at=now,
        from_status=from_status,
        to_status=to_status,
        note=note,
        data=data or {},
        prev_hash=head.last_hash,
    )
    event.hash = _digest(head.last_hash, _fields(event))
    db.session.add(event)
    db.session.flush()
    head.last_event_id = event.id
    head.last_hash = event.hash
    return event


@dataclass
class ChainReport:
    checked: int
    broken_at: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(batch: int = 5000) -> ChainReport:
    """Walk every event in id order and recompute the chain."""
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = db.session.scalars(
            select(Event).where(Event.id > last_id).order_by(Event.id).limit(batch)
        ).all()
        if not rows:
            break
        for event in rows:
            if event.prev_hash != prev:
                return ChainReport(checked, event.id, "previous hash does not match (row removed?)")
            if _digest(prev, _fields(event)) != event.hash:
                return ChainReport(checked, event.id, "content does not match its hash (edited?)")
            prev = event.hash
            checked += 1
            last_id = event.id
        db.session.expunge_all()
    head = db.session.get(AuditChainHead, 1)
    if head is not None and head.last_hash != prev:
        return ChainReport(checked, head.last_event_id, "newest events were removed")
    return ChainReport(checked, None, None)
