"""The city's organisation: territories, units, categories, legacy lines, catalogue versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.models.base import Base, UTCDateTime, utcnow


class Territory(Base):
    """A division of the city: district/county city, then street (街道) or town (镇)."""

    __tablename__ = "territory"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped[Territory | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Territory]] = relationship(back_populates="parent")
    aliases: Mapped[list[TerritoryAlias]] = relationship(
        back_populates="territory", cascade="all, delete-orphan"
    )

    @property
    def level(self) -> int:
        return 1 if self.parent_id is None else 2


class TerritoryAlias(Base):
    __tablename__ = "territory_alias"
    __table_args__ = (UniqueConstraint("territory_id", "alias"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id"), index=True)
    alias: Mapped[str] = mapped_column(String(64), index=True)

    territory: Mapped[Territory] = relationship(back_populates="aliases")


class Department(Base):
    """A handling unit (承办单位): department, district government, utility, mass org."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    short_name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    territory: Mapped[Territory | None] = relationship()


class Category(Base):
    """Two-level complaint taxonomy (诉求分类); second-level codes carry the routing."""

    __tablename__ = "category"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped[Category | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Category]] = relationship(back_populates="parent")


class CatalogueVersion(Base):
    """One import of the responsibility catalogue (权责清单); tickets keep theirs."""

    __tablename__ = "catalogue_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    source: Mapped[str] = mapped_column(String(255))
    checksum: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    imported_by: Mapped[str | None] = mapped_column(String(64))
    # The whole imported document, so any version's rules can be shown and exported.
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False, index=True)

    rules: Mapped[list[RoutingRule]] = relationship(
        back_populates="version", cascade="all, delete-orphan"
    )


class RoutingRule(Base):
    """(category) -> vertical unit, or territorial with the unit as fallback, per version."""

    __tablename__ = "routing_rule"
    __table_args__ = (UniqueConstraint("version_id", "category_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("catalogue_version.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"), index=True)
    mode: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    # territorial rules: "district" (区/县级市政府) or "street" (街道/镇 where a unit exists)
    territory_level: Mapped[str] = mapped_column(String(16), default="district")
    assisting: Mapped[list[str]] = mapped_column(JSON, default=list)

    version: Mapped[CatalogueVersion] = relationship(back_populates="rules")
    category: Mapped[Category] = relationship()
    department: Mapped[Department] = relationship()


class Hotline(Base):
    """A legacy hotline number and how it is folded into 12345 (一号对外)."""

    __tablename__ = "hotline"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    default_category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    department: Mapped[Department | None] = relationship()
    default_category: Mapped[Category | None] = relationship()
