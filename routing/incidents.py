"""事件归并: a burst of near-identical tickets about one event (a burst main, a blackout)
is grouped so that one reply to its parent ticket answers them all.

Grouping reuses the lifecycle's merge (并单), so there is still one state machine:
members still `accepted` are merged into the parent and close with it; members
already dispatched cannot be merged (a unit holds them) and join the group as
"linked" — listed with it, but answered by their own unit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import combinations
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from hotline.errors import InvalidInput, NotFound, RuleViolation
from hotline.extensions import db
from hotline.models import OPEN_STATUSES, IncidentGroup, Role, Ticket, TicketStatus, User, utcnow
from hotline.tickets.common import record, require_role
from hotline.tickets.service import merge_into
from routing.duplicates import Rules, TicketFacts, facts_of, place_match

DEFAULTS: dict[str, Any] = {
    "INCIDENT_MIN_TICKETS": 3,
    "INCIDENT_WINDOW_HOURS": 6,
    # How far back the dispatcher's list of candidate bursts looks.
    "INCIDENT_LOOKBACK_HOURS": 24,
    "INCIDENT_TEXT_THRESHOLD": 0.10,
}


def incident_setting(name: str) -> Any:
    """An incident setting from the app config, else its default."""
    return current_app.config.get(name, DEFAULTS[name])


@dataclass(frozen=True)
class IncidentCandidate:
    """A burst the dispatcher may group: members oldest first, a proposed parent."""

    references: list[str]
    parent: str
    title: str
    category: str | None
    territory: str | None
    first_received_at: datetime
    last_received_at: datetime
    score: float
    reasons: list[str]


# --------------------------------------------------------------------------- finding bursts


def _components(facts: list[TicketFacts], rules: Rules) -> list[tuple[list[int], list[float]]]:
    """Connected groups of tickets linked by the place rule, with the links' similarities."""
    parent = list(range(len(facts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    links: list[tuple[int, int, float]] = []
    for i, j in combinations(range(len(facts)), 2):
        found = place_match(facts[i], facts[j], rules)
        if found is not None:
            links.append((i, j, found.score))
            parent[root(i)] = root(j)
    members: dict[int, list[int]] = {}
    for i in range(len(facts)):
        members.setdefault(root(i), []).append(i)
    scores: dict[int, list[float]] = {}
    for i, _j, score in links:
        scores.setdefault(root(i), []).append(score)
    return [(group, scores.get(key, [])) for key, group in members.items()]


def _is_burst(times: list[datetime], minimum: int, window: timedelta) -> bool:
    """At least `minimum` of the times fall inside one window."""
    times = sorted(times)
    return any(times[i + minimum - 1] - times[i] <= window for i in range(len(times) - minimum + 1))


def _proposed_parent(tickets: list[Ticket]) -> Ticket:
    """The earliest ticket a unit already holds (its reply will answer the event), else the
    earliest: still-accepted members can then be merged into it."""
    dispatched = [t for t in tickets if t.status != TicketStatus.ACCEPTED]
    return min(dispatched or tickets, key=lambda t: (t.received_at, t.id))


def suggest_incidents(
    *, now: datetime | None = None, hours: float | None = None
) -> list[IncidentCandidate]:
    """Bursts of ≥ INCIDENT_MIN_TICKETS open, ungrouped tickets of one category at one place
    with similar text inside INCIDENT_WINDOW_HOURS, received in the last `hours`."""
    now = now or utcnow()
    hours = hours if hours is not None else incident_setting("INCIDENT_LOOKBACK_HOURS")
    minimum = int(incident_setting("INCIDENT_MIN_TICKETS"))
    window = timedelta(hours=incident_setting("INCIDENT_WINDOW_HOURS"))
    rules = replace(
        Rules.from_config(),
        window_hours=window.total_seconds() / 3600,
        place_threshold=incident_setting("INCIDENT_TEXT_THRESHOLD"),
    )
    rows = db.session.scalars(
        select(Ticket)
        .where(
            Ticket.status.in_(OPEN_STATUSES),
            Ticket.merged_into_id.is_(None),
            Ticket.incident_group_id.is_(None),
            Ticket.category_id.is_not(None),
            Ticket.type.in_(sorted(rules.place_types)),
            Ticket.received_at.between(now - timedelta(hours=hours), now),
        )
        .options(selectinload(Ticket.category), selectinload(Ticket.territory))
        .order_by(Ticket.received_at, Ticket.id)
    ).all()
    by_category: dict[int | None, list[Ticket]] = {}
    for ticket in rows:
        by_category.setdefault(ticket.category_id, []).append(ticket)
    found: list[IncidentCandidate] = []
    for tickets in by_category.values():
        if len(tickets) < minimum:
            continue
        facts = [facts_of(t) for t in tickets]
        for members, scores in _components(facts, rules):
            group = [tickets[i] for i in members]
            if len(group) < minimum or not _is_burst(
                [t.received_at for t in group], minimum, window
            ):
                continue
            found.append(_candidate(group, scores))
    found.sort(key=lambda c: (-len(c.references), -c.last_received_at.timestamp()))
    return found


def _candidate(group: list[Ticket], scores: list[float]) -> IncidentCandidate:
    parent = _proposed_parent(group)
    category = parent.category
    places = Counter(t.territory for t in group if t.territory is not None)
    territory = places.most_common(1)[0][0] if places else None
    where = territory.name if territory is not None else "地址相近"
    score = round(sum(scores) / len(scores), 3) if scores else 0.0
    times = [t.received_at for t in group]
    span_hours = (max(times) - min(times)).total_seconds() / 3600
    what = category.name if category is not None else ""
    return IncidentCandidate(
        references=[t.reference for t in group],
        parent=parent.reference,
        title=f"{where}·{what}：{parent.title}"[:200],
        category=category.code if category is not None else None,
        territory=territory.code if territory is not None else None,
        first_received_at=min(times),
        last_received_at=max(times),
        score=score,
        reasons=[
            f"{len(group)} 张工单 {span_hours:.1f} 小时内先后受理",
            f"同一分类：{what}",
            f"同一地点：{where}",
            f"平均内容相似度 {score:.2f}",
        ],
    )


# --------------------------------------------------------------------------- grouping


def group_incident(
    references: Sequence[str],
    *,
    title: str,
    parent_reference: str,
    actor: User,
    note: str | None = None,
) -> IncidentGroup:
    """Group tickets about one event under a parent whose reply answers them.

    Accepted members are merged into the parent (they close with it); members a unit
    already holds stay open as "linked". One transaction; every ticket gets an event.
    """
    require_role(
        actor, Role.DISPATCHER, Role.ADMIN, what_en="dispatchers group incidents", what_zh="派单员"
    )
    title = title.strip()
    if not title:
        raise InvalidInput("title is required", "请填写事件标题", field="title")
    wanted = list(dict.fromkeys([parent_reference, *references]))
    if len(wanted) < 2:
        raise InvalidInput(
            "an incident group needs the parent and at least one other ticket",
            "事件组至少需要主单和另一张工单",
            field="references",
        )
    # Locked in id order, like every multi-ticket write, so two groupings cannot deadlock.
    tickets = db.session.scalars(
        select(Ticket).where(Ticket.reference.in_(wanted)).order_by(Ticket.id).with_for_update()
    ).all()
    found = {t.reference: t for t in tickets}
    missing = [r for r in wanted if r not in found]
    if missing:
        raise NotFound(
            f"no tickets {', '.join(missing)}",
            f"工单 {'、'.join(missing)} 不存在",
            field="references",
            missing=missing,
        )
    problems = [_unfit(found[r]) for r in wanted]
    if any(problems):
        listed = [p for p in problems if p]
        raise RuleViolation(
            "; ".join(p[0] for p in listed),
            "；".join(p[1] for p in listed),
            field="references",
        )
    parent = found[parent_reference]
    group = IncidentGroup(
        title=title[:200],
        category_id=parent.category_id or _most_common(t.category_id for t in tickets),
        territory_id=parent.territory_id or _most_common(t.territory_id for t in tickets),
        parent_reference=parent.reference,
        created_at=utcnow(),
        note=note,
    )
    db.session.add(group)
    db.session.flush()
    parent.incident_group_id = group.id
    merged: list[str] = []
    linked: list[str] = []
    for reference in wanted[1:]:
        child = found[reference]
        child.incident_group_id = group.id
        if child.status == TicketStatus.ACCEPTED:
            merge_into(child, parent, actor, group=group.id)
            merged.append(reference)
        else:
            record(
                child,
                "group_incident",
                actor,
                group=group.id,
                role="linked",
                parent=parent.reference,
            )
            linked.append(reference)
    # Duplicates merged earlier into a linked member follow it, and belong to the event too.
    for follower in db.session.scalars(
        select(Ticket).where(
            Ticket.merged_into_id.in_([t.id for t in tickets]),
            Ticket.incident_group_id.is_(None),
        )
    ):
        follower.incident_group_id = group.id
    record(
        parent,
        "group_incident",
        actor,
        group=group.id,
        role="parent",
        title=group.title,
        merged=merged,
        linked=linked,
    )
    db.session.commit()
    return group


def _unfit(ticket: Ticket) -> tuple[str, str] | None:
    if not ticket.is_open:
        return (
            f"ticket {ticket.reference} is {ticket.status}",
            f"工单 {ticket.reference} 已办结或已并单",
        )
    if ticket.incident_group_id is not None:
        return (
            f"ticket {ticket.reference} is already in incident group {ticket.incident_group_id}",
            f"工单 {ticket.reference} 已属于事件组 {ticket.incident_group_id}",
        )
    return None


def _most_common(values: Any) -> Any:
    counted = Counter(v for v in values if v is not None)
    return counted.most_common(1)[0][0] if counted else None


# --------------------------------------------------------------------------- reading


def get_incident(group_id: int) -> IncidentGroup:
    group = db.session.get(IncidentGroup, group_id)
    if group is None:
        raise NotFound(f"no incident group {group_id}", f"事件组 {group_id} 不存在")
    return group


def incident_members(group: IncidentGroup) -> list[tuple[Ticket, str]]:
    """The group's tickets, oldest first, each with its part: parent, merged or linked."""
    tickets = db.session.scalars(
        select(Ticket)
        .where(Ticket.incident_group_id == group.id)
        .order_by(Ticket.received_at, Ticket.id)
    ).all()
    return [
        (
            t,
            "parent"
            if t.reference == group.parent_reference
            else "merged"
            if t.merged_into_id is not None
            else "linked",
        )
        for t in tickets
    ]
