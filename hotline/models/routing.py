"""Routing records: places that locate a request, each routing decision (suggested vs
chosen: overrides are training data and a KPI), learned models, incident groups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.models.base import Base, UTCDateTime, utcnow
from hotline.models.org import Territory


class TerritoryPlace(Base):
    """A landmark, village, road or community a city lists, inside one territory."""

    __tablename__ = "territory_place"

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id"), index=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="landmark")
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)

    territory: Mapped[Territory] = relationship()


class RoutingDecision(Base):
    """What routing suggested for a ticket and what the dispatcher chose."""

    __tablename__ = "routing_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    suggestions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    chosen_category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    chosen_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    chosen_territory_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"))
    followed_rank: Mapped[int | None] = mapped_column(Integer)  # 1-based; None = override
    overridden: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    catalogue_version_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_version.id"))
    model_version: Mapped[int | None] = mapped_column(Integer)


class RoutingModel(Base):
    """A classifier learned from closed tickets (`hotline routing train`)."""

    __tablename__ = "routing_model"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    samples: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Serialised model parameters (not pickle: plain arrays/JSON the loader validates).
    artifact: Mapped[bytes] = mapped_column(LargeBinary)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class IncidentGroup(Base):
    """Near-identical tickets about one event (a burst main, a blackout): one reply
    to the group answers them all."""

    __tablename__ = "incident_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"))
    # The ticket whose reply answers the group (a reference, not a key: tickets point here).
    parent_reference: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
