"""Operational tables: the outbox, the working-day calendar, system alerts, audit chain."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hotline.models.base import Base, UTCDateTime, utcnow


class OutboxItem(Base):
    """Work decided inside a transaction and carried out after it commits.

    kind "job": an RQ job `name` with `payload` kwargs; kind "push": a Socket.IO
    event `name` with `payload` to `room`. The relay marks `relayed_at`.
    """

    __tablename__ = "outbox_item"
    __table_args__ = (Index("ix_outbox_item_pending", "relayed_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(64))
    room: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    relayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Taken by a relay that is handing it to Redis; a claim older than the relay's
    # timeout was left by a process that stopped, and is taken again.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class CalendarDay(Base):
    """An imported day that differs from the weekly pattern (holiday or 调休 make-up day)."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(String(64))


class CalendarYear(Base):
    """A year whose schedule the city imported; imported years override the package."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SystemAlert(Base):
    """Something operators must act on (missing calendar year, …); one open per key."""

    __tablename__ = "system_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    key: Mapped[str] = mapped_column(String(128), index=True)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeadlineAlert(Base):
    """A deadline's warning or escalation that has been raised: one row per ticket, kind
    and deadline, so a sweep run twice (or by two workers at once) raises it once. A
    moved deadline (an extension, a redo) is a new deadline and warns again."""

    __tablename__ = "deadline_alert"
    __table_args__ = (UniqueConstraint("ticket_id", "kind", "deadline"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class HotspotAlert(Base):
    """An early warning (苗头性预警): a burst of one category in one territory, or a risk
    word in a request (hotline.hotspots). `key` makes each raised once."""

    __tablename__ = "hotspot_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(96), unique=True)
    kind: Mapped[str] = mapped_column(String(12))  # burst | keyword
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    keyword: Mapped[str | None] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer, default=1)
    baseline: Mapped[float | None] = mapped_column(Float)
    window_from: Mapped[datetime] = mapped_column(UTCDateTime)
    window_to: Mapped[datetime] = mapped_column(UTCDateTime)
    title: Mapped[str] = mapped_column(String(200))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


# The counts each figure of hotline.kpi is made of; the daily rollup keeps one column each.
KPI_COUNTS = (
    "calls_inbound",
    "calls_answered",
    "calls_answered_15s",
    "calls_abandoned",
    "answer_wait_s",
    "talk_time_s",
    "accepted",
    "direct_answers",
    "repeats",
    "closed_in_period",
    "assignments",
    "signed_in_time",
    "returns",
    "returns_decided",
    "wrongful_returns",
    "due",
    "on_time",
    "dispatched",
    "closed",
    "visits_valid",
    "visits_rated",
    "timely_contact",
    "solved",
    "partly_solved",
    "satisfied",
    "basically_satisfied",
    "redone",
    "visited",
    "visits_reached",
)


class KpiRollup(Base):
    """One city day's counts (KPI_COUNTS) for one group: `group_by` '' is the whole
    centre, otherwise department, category, channel, territory, agent or type with the
    group's id or code in `group_key` ('' for none). Kept by hotline.kpi_rollup."""

    __tablename__ = "kpi_rollup"
    __table_args__ = (UniqueConstraint("group_by", "day", "group_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    group_by: Mapped[str] = mapped_column(String(16))
    group_key: Mapped[str] = mapped_column(String(64))


for _name in KPI_COUNTS:
    setattr(KpiRollup, _name, Column(_name, BigInteger, nullable=False, default=0))


class KpiRollupDay(Base):
    """A city day whose rollup rows are built, and when."""

    __tablename__ = "kpi_rollup_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KpiChange(Base):
    """A change to a day that has ended (a late reply, a visit, a re-classification):
    that day's rollup is read live until the worker builds it again. Append-only, so
    concurrent writers never wait on each other."""

    __tablename__ = "kpi_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)


class ReferenceCounter(Base):
    """Per-day sequence behind ticket references; bumped atomically (upsert … returning)."""

    __tablename__ = "reference_counter"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class AuditChainHead(Base):
    """One row: the hash of the newest event, locked while appending (tamper evidence)."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_event_id: Mapped[int | None] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
