"""Ticket references: city adcode + local date + a per-day sequence, unique under concurrency."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql, sqlite

from hotline.extensions import db
from hotline.models import ReferenceCounter


def next_reference(adcode: str, received_at: datetime, timezone: str) -> str:
    """Allocate the next reference in the caller's transaction.

    One atomic upsert ... RETURNING per call: two transactions can never read the
    same value, on PostgreSQL (row lock on conflict) or SQLite (one writer).
    """
    day = received_at.astimezone(ZoneInfo(timezone)).strftime("%Y%m%d")
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(ReferenceCounter)
        .values(day=day, last_value=1)
        .on_conflict_do_update(
            index_elements=[ReferenceCounter.day],
            set_={"last_value": ReferenceCounter.last_value + 1},
        )
        .returning(ReferenceCounter.last_value)
    )
    sequence = db.session.execute(statement).scalar_one()
    return f"{adcode}{day}{sequence:06d}"
