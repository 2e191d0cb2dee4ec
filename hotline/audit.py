"""The tamper-evident event log: append with a hash chain, verify the chain."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from hotline import privacy
from hotline.extensions import db
from hotline.models import AuditChainHead, Event, Ticket, User, utcnow

GENESIS = "0" * 64


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    """HMAC-SHA256 keyed outside the database: write access alone cannot forge the chain."""
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(
        privacy.audit_key(), (prev_hash + canonical).encode(), hashlib.sha256
    ).hexdigest()


def _fields(event: Any) -> dict[str, Any]:
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


CHAIN_COLUMNS = (
    Event.id,
    Event.ticket_id,
    Event.action,
    Event.actor_id,
    Event.actor_name,
    Event.actor_role,
    Event.department_id,
    Event.at,
    Event.from_status,
    Event.to_status,
    Event.note,
    Event.data,
    Event.prev_hash,
    Event.hash,
)


def verify_chain(batch: int = 5000) -> ChainReport:
    """Walk every event in id order and recompute the chain (plain rows: no ORM state)."""
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = db.session.execute(
            select(*CHAIN_COLUMNS).where(Event.id > last_id).order_by(Event.id).limit(batch)
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
    head = db.session.execute(
        select(AuditChainHead.last_hash, AuditChainHead.last_event_id).where(AuditChainHead.id == 1)
    ).first()
    if head is None and checked:
        return ChainReport(checked, last_id, "chain head missing (newest events removed?)")
    if head is not None and head.last_hash != prev:
        return ChainReport(checked, head.last_event_id, "newest events were removed")
    return ChainReport(checked, None, None)
