"""并单建议: find open tickets that are likely the same request as a given one.

Two rules, each a plain function of two tickets' facts (`match`), so the
thresholds can be measured on labelled pairs without an app:

- the same caller (phone) with similar text within DUPLICATE_DAYS days — a
  caller chasing or repeating a request;
- the same second-level category and place with similar text within
  DUPLICATE_WINDOW_HOURS — several callers reporting one event (a dead street
  light, a burst main). Only things that happen at a place count (complaint,
  report, help): two people asking the same consult question each need an answer.

`find_duplicates` narrows the candidates in SQL and applies `match` to them.
Merging itself is the lifecycle's `merge` action; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from hotline.extensions import db
from hotline.models import OPEN_STATUSES, Territory, Ticket
from routing.similarity import address_similarity, text_similarity

# Defaults of the configuration keys. The text thresholds were measured on
# tests/routing/data/duplicate_pairs.yaml (precision 0.86, recall 0.97: see
# tests/routing/test_duplicates.py); the address threshold only serves tickets whose
# territory is unknown and asks that most of one address appear in the other.
DEFAULTS: dict[str, Any] = {
    "DUPLICATE_DAYS": 7,
    "DUPLICATE_WINDOW_HOURS": 72,
    "DUPLICATE_CALLER_THRESHOLD": 0.10,
    "DUPLICATE_PLACE_THRESHOLD": 0.10,
    "DUPLICATE_ADDRESS_THRESHOLD": 0.6,
    "DUPLICATE_PLACE_TYPES": ("complaint", "report", "help"),
    "DUPLICATE_LIMIT": 10,
}


def setting(name: str, config: Mapping[str, Any] | None = None) -> Any:
    """A duplicate/incident setting from the app config, else its measured default."""
    source = current_app.config if config is None else config
    return source.get(name, DEFAULTS[name])


@dataclass(frozen=True)
class TicketFacts:
    """What the rules compare; `district` is the territory's district (itself for one)."""

    text: str
    received_at: datetime
    type: str | None = None
    caller: Any = None
    category: str | None = None
    territory: str | None = None
    district: str | None = None
    address: str | None = None
    category_name: str | None = None
    territory_name: str | None = None


@dataclass(frozen=True)
class Rules:
    caller_days: float = DEFAULTS["DUPLICATE_DAYS"]
    window_hours: float = DEFAULTS["DUPLICATE_WINDOW_HOURS"]
    caller_threshold: float = DEFAULTS["DUPLICATE_CALLER_THRESHOLD"]
    place_threshold: float = DEFAULTS["DUPLICATE_PLACE_THRESHOLD"]
    address_threshold: float = DEFAULTS["DUPLICATE_ADDRESS_THRESHOLD"]
    place_types: frozenset[str] = frozenset(DEFAULTS["DUPLICATE_PLACE_TYPES"])

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any] | None = None, *, days: float | None = None
    ) -> Rules:
        return cls(
            caller_days=days if days is not None else setting("DUPLICATE_DAYS", config),
            window_hours=setting("DUPLICATE_WINDOW_HOURS", config),
            caller_threshold=setting("DUPLICATE_CALLER_THRESHOLD", config),
            place_threshold=setting("DUPLICATE_PLACE_THRESHOLD", config),
            address_threshold=setting("DUPLICATE_ADDRESS_THRESHOLD", config),
            place_types=frozenset(setting("DUPLICATE_PLACE_TYPES", config)),
        )


@dataclass(frozen=True)
class Match:
    score: float
    reasons: tuple[str, ...]


def same_place(a: TicketFacts, b: TicketFacts, address_threshold: float) -> str | None:
    """Why two tickets are at the same place, or None: the same territory, a street and
    its own district, or (territory unknown on a side) closely matching addresses."""
    if a.territory and b.territory:
        if a.territory == b.territory:
            return f"同一地点：{a.territory_name or a.territory}"
        if a.district and a.district == b.district and a.district in (a.territory, b.territory):
            wider = a if a.territory == a.district else b
            return f"同属{wider.territory_name or wider.territory}"
        return None
    if a.address and b.address:
        similarity = address_similarity(a.address, b.address)
        if similarity >= address_threshold:
            return f"地址相近（{similarity:.2f}）"
    return None


def places_conflict(a: TicketFacts, b: TicketFacts) -> bool:
    """Both places are known and are not the same place (another street or district)."""
    if not (a.territory and b.territory) or a.territory == b.territory:
        return False
    return not (
        a.district and a.district == b.district and a.district in (a.territory, b.territory)
    )


def _apart(a: TicketFacts, b: TicketFacts) -> timedelta:
    return abs(b.received_at - a.received_at)


def _when(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} 小时内" if hours < 48 else f"{hours / 24:.0f} 天内"


def match(a: TicketFacts, b: TicketFacts, rules: Rules) -> Match | None:
    """Whether `b` is likely the same request as `a` (symmetric), with the reasons."""
    similarity = text_similarity(a.text, b.text)
    delta = _apart(a, b)
    reasons: list[str] = []
    same_caller = a.caller is not None and a.caller == b.caller
    if (
        same_caller
        and delta <= timedelta(days=rules.caller_days)
        and similarity >= rules.caller_threshold
        and not places_conflict(a, b)
    ):
        reasons.append(f"同一来电人（{_when(delta)}）")
    if (
        a.category is not None
        and a.category == b.category
        and a.type in rules.place_types
        and b.type in rules.place_types
        and delta <= timedelta(hours=rules.window_hours)
        and similarity >= rules.place_threshold
    ):
        place = same_place(a, b, rules.address_threshold)
        if place is not None:
            reasons.append(f"同一分类：{a.category_name or a.category}")
            reasons.append(place)
            if not same_caller:
                reasons.append(f"{_when(delta)}先后来电")
    if not reasons:
        return None
    reasons.append(f"内容相似度 {similarity:.2f}")
    return Match(round(similarity, 3), tuple(reasons))


def place_match(a: TicketFacts, b: TicketFacts, rules: Rules) -> Match | None:
    """The second rule alone (callers ignored): used to find bursts of one event."""
    return match(replace(a, caller=None), replace(b, caller=None), rules)


# --------------------------------------------------------------------------- the service


@dataclass(frozen=True)
class Candidate:
    """An open ticket that is likely a duplicate, best first in `find_duplicates`."""

    reference: str
    score: float
    reasons: list[str]
    status: str
    title: str
    received_at: datetime
    incident_group: int | None = None


def facts_of(ticket: Ticket) -> TicketFacts:
    territory: Territory | None = ticket.territory
    district = territory.parent if territory is not None and territory.parent else territory
    return TicketFacts(
        text=ticket.content or ticket.title,
        received_at=ticket.received_at,
        type=ticket.type,
        caller=ticket.contact_id,
        category=ticket.category.code if ticket.category else None,
        territory=territory.code if territory else None,
        district=district.code if district else None,
        address=ticket.address,
        category_name=ticket.category.name if ticket.category else None,
        territory_name=territory.name if territory else None,
    )


def _district_family(territory: Territory | None) -> list[int]:
    """Ids of the ticket's district and all its streets/towns (the only places that match)."""
    if territory is None:
        return []
    district = territory.parent or territory
    return [district.id, *(child.id for child in district.children)]


def find_duplicates(
    ticket: Ticket, *, days: float | None = None, limit: int | None = None
) -> list[Candidate]:
    """Open, unmerged tickets that are likely the same request as `ticket`, best first."""
    if not ticket.is_open:
        return []
    rules = Rules.from_config(days=days)
    limit = limit or setting("DUPLICATE_LIMIT")
    clauses = []
    if ticket.contact_id is not None:
        span = timedelta(days=rules.caller_days)
        clauses.append(
            and_(
                Ticket.contact_id == ticket.contact_id,
                Ticket.received_at.between(ticket.received_at - span, ticket.received_at + span),
            )
        )
    placed = ticket.territory_id is not None or bool(ticket.address)
    if ticket.category_id is not None and ticket.type in rules.place_types and placed:
        span = timedelta(hours=rules.window_hours)
        family = _district_family(ticket.territory)
        clauses.append(
            and_(
                Ticket.category_id == ticket.category_id,
                Ticket.received_at.between(ticket.received_at - span, ticket.received_at + span),
                # Unknown places are compared by address text in `match`.
                or_(Ticket.territory_id.in_(family), Ticket.territory_id.is_(None))
                if family
                else Ticket.address.is_not(None),
            )
        )
    if not clauses:
        return []
    rows = db.session.scalars(
        select(Ticket)
        .where(
            Ticket.id != ticket.id,
            Ticket.status.in_(OPEN_STATUSES),
            Ticket.merged_into_id.is_(None),
            or_(*clauses),
        )
        .options(selectinload(Ticket.category), selectinload(Ticket.territory))
    ).all()
    mine = facts_of(ticket)
    found: list[Candidate] = []
    for other in rows:
        result = match(mine, facts_of(other), rules)
        if result is not None:
            found.append(
                Candidate(
                    reference=other.reference,
                    score=result.score,
                    reasons=list(result.reasons),
                    status=other.status,
                    title=other.title,
                    received_at=other.received_at,
                    incident_group=other.incident_group_id,
                )
            )
    found.sort(key=lambda c: (-c.score, c.received_at, c.reference))
    return found[:limit]
