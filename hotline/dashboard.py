"""The supervisors' dashboard (`/supervisor`): the figures per unit with each formula,
units ranked by the composite within their peer group (districts, departments,
utilities), the daily trend of requests accepted and closed, requests by channel, and
the overdue and nearly due tickets. All of it from the figures' daily rollup and grouped
SQL (hotline.kpi, hotline.kpi_rollup), none of it a loop over tickets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from hotline.extensions import db
from hotline.kpi import Report, report
from hotline.kpi_rollup import gather
from hotline.models import Department, Ticket, utcnow
from hotline.sweeps import HANDLING

LIST_LIMIT = 20
PEER_GROUPS = {
    "territorial": "区县（市）人民政府",
    "department": "市直部门",
    "utility": "公共企事业单位",
    "mass_org": "群团组织",
}


@dataclass
class Topic:
    """A 每月一题 candidate: a category worth a month's concerted effort."""

    code: str
    name: str
    volume: int
    repeat_rate: float | None
    resolution_rate: float | None
    score: float


def topic_candidates(start: datetime, end: datetime, limit: int = 10) -> list[Topic]:
    """Categories ranked by how much a month's focus would pay: many requests, many of
    them repeats, and few solved — score = volume × (1 + 重复诉求率) × (2 − 解决率),
    an unknown 解决率 counting as 0.5."""
    found = report(start, end, "category")
    topics = []
    for row in found.rows:
        volume = int(row["counts"].get("accepted", 0))
        if not row["key"] or volume == 0:
            continue
        repeats = row["metrics"]["repeat_rate"]
        solved = row["metrics"]["resolution_rate"]
        score = volume * (1 + (repeats or 0.0)) * (2 - (0.5 if solved is None else solved))
        topics.append(Topic(row["key"], row["name"], volume, repeats, solved, round(score, 3)))
    return sorted(topics, key=lambda t: (-t.score, t.code))[:limit]


@dataclass
class Dashboard:
    figures: Report
    days: list[str]
    accepted: list[int]
    closed: list[int]
    channels: list[tuple[str, int]]
    ranking: dict[str, list[dict[str, Any]]]
    overdue: list[Ticket]
    near_due: list[Ticket]
    topics: list[Topic]


def build(start: datetime, end: datetime, group_by: str = "department") -> Dashboard:
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    figures = report(start, end, group_by)
    first: date = start.astimezone(zone).date()
    last: date = (end - timedelta(microseconds=1)).astimezone(zone).date()
    days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)][:400]
    per_day = {d: f.counts for (d, _none), f in gather(start, end, None, by_day=True).items()}
    by_channel = [
        (key, int(f.counts.get("accepted", 0)))
        for (_none, key), f in gather(start, end, "channel").items()
        if key is not None and f.counts.get("accepted")
    ]
    now = utcnow()
    overdue = db.session.scalars(
        select(Ticket)
        .where(Ticket.status.in_(HANDLING), Ticket.due_at < now)
        .order_by(Ticket.due_at)
        .limit(LIST_LIMIT)
    ).all()
    near_due = db.session.scalars(
        select(Ticket)
        .where(Ticket.status.in_(HANDLING), Ticket.due_warn_at <= now, Ticket.due_at >= now)
        .order_by(Ticket.due_at)
        .limit(LIST_LIMIT)
    ).all()
    return Dashboard(
        figures=figures,
        days=days,
        accepted=[int(per_day.get(d, {}).get("accepted", 0)) for d in days],
        closed=[int(per_day.get(d, {}).get("closed_in_period", 0)) for d in days],
        channels=sorted(by_channel, key=lambda pair: (-pair[1], pair[0])),
        ranking=ranking(start, end, figures if group_by == "department" else None),
        overdue=list(overdue),
        near_due=list(near_due),
        topics=topic_candidates(start, end),
    )


def ranking(
    start: datetime, end: datetime, by_unit: Report | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Units with a composite, best first, within their peer group (their `kind`)."""
    found = by_unit or report(start, end, "department")
    kinds = dict(db.session.execute(select(Department.code, Department.kind)).all())
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in found.rows:
        score = row["metrics"].get("composite")
        kind = kinds.get(row["key"])
        if score is None or kind not in PEER_GROUPS:
            continue
        groups.setdefault(kind, []).append(row)
    return {
        kind: sorted(rows, key=lambda r: -r["metrics"]["composite"])
        for kind, rows in groups.items()
    }
