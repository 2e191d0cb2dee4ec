"""Routing quality per unit and period: how often the office overrode routing's first
suggestion, and how often units sent tickets back (退单率) and wrongly so (不当退单率).

Plain queries returning rows, ready for the KPI report to show or rank.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, case, func, or_, select

from hotline.extensions import db
from hotline.models import Assignment, Department, ReturnRequest, RoutingDecision


def _rate(hits: int, count: int) -> float | None:
    return hits / count if count else None


@dataclass(frozen=True)
class OverrideRate:
    """Dispatches to a unit made with routing suggestions, and how many overrode them.
    `department` None is the total over all units."""

    department: str | None
    name: str
    dispatches: int
    overridden: int
    rate: float | None


def override_rate(since: datetime, until: datetime) -> list[OverrideRate]:
    """Share of dispatches (with suggestions) in [since, until) whose unit was not routing's
    first choice, per chosen unit, then the total."""
    # A decision had suggestions exactly when it followed one or overrode them all.
    suggested = or_(RoutingDecision.followed_rank.is_not(None), RoutingDecision.overridden)
    overridden = func.sum(case((RoutingDecision.overridden, 1), else_=0)).cast(Integer)
    rows = db.session.execute(
        select(Department.code, Department.short_name, func.count(), overridden)
        .join(Department, Department.id == RoutingDecision.chosen_department_id)
        .where(
            suggested,
            RoutingDecision.decided_at >= since,
            RoutingDecision.decided_at < until,
        )
        .group_by(Department.code, Department.short_name)
        .order_by(Department.code)
    ).all()
    out = [OverrideRate(code, name, n, hits, _rate(hits, n)) for code, name, n, hits in rows]
    total_n = sum(r.dispatches for r in out)
    total_hits = sum(r.overridden for r in out)
    out.append(OverrideRate(None, "合计", total_n, total_hits, _rate(total_hits, total_n)))
    return out


@dataclass(frozen=True)
class ReturnRate:
    """A unit's lead assignments in the period, its send-backs, and the wrongful ones
    (refused on review). `department` None is the total."""

    department: str | None
    name: str
    assignments: int
    returns: int
    wrongful: int
    return_rate: float | None
    wrongful_return_rate: float | None


def return_rates(since: datetime, until: datetime) -> list[ReturnRate]:
    """退单率 = send-backs / lead assignments and 不当退单率 = refused send-backs /
    send-backs (DOMAIN.md "KPIs"), per unit, for what happened in [since, until)."""
    assigned = dict(
        db.session.execute(
            select(Assignment.department_id, func.count())
            .where(
                Assignment.role == "lead",
                Assignment.dispatched_at >= since,
                Assignment.dispatched_at < until,
            )
            .group_by(Assignment.department_id)
        ).all()
    )
    wrongful = func.sum(case((ReturnRequest.wrongful, 1), else_=0)).cast(Integer)
    returned = {
        department_id: (n, bad)
        for department_id, n, bad in db.session.execute(
            select(ReturnRequest.department_id, func.count(), wrongful)
            .where(ReturnRequest.requested_at >= since, ReturnRequest.requested_at < until)
            .group_by(ReturnRequest.department_id)
        ).all()
    }
    units = db.session.execute(
        select(Department.id, Department.code, Department.short_name)
        .where(Department.id.in_(set(assigned) | set(returned)))
        .order_by(Department.code)
    ).all()
    out: list[ReturnRate] = []
    for unit_id, code, name in units:
        n = assigned.get(unit_id, 0)
        backs, bad = returned.get(unit_id, (0, 0))
        out.append(ReturnRate(code, name, n, backs, bad, _rate(backs, n), _rate(bad, backs)))
    n = sum(r.assignments for r in out)
    backs = sum(r.returns for r in out)
    bad = sum(r.wrongful for r in out)
    out.append(ReturnRate(None, "合计", n, backs, bad, _rate(backs, n), _rate(bad, backs)))
    return out
