"""Daily, weekly and monthly reports (日报、周报、月报, DOMAIN.md "Hotspots"): volume
against the previous period, the mix of request types and channels, the top
categories and the fastest rises, the centre's key figures, unit rankings within their
peer groups, and the early warnings raised. Every number comes from hotline.kpi (the
daily rollup for ended days) and the warnings table; none from a loop over tickets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from hotline.errors import InvalidInput
from hotline.extensions import db
from hotline.kpi import Report, report
from hotline.kpi_rollup import day_start, local_today
from hotline.models import HotspotAlert

PERIODS = ("day", "week", "month")
TOP = 10
# A category needs this many requests this period before its rise is worth reporting.
RISE_MIN = 5
KEY_FIGURES = (
    "answer_rate",
    "answer_rate_15s",
    "direct_answer_rate",
    "timely_sign_rate",
    "on_time_rate",
    "completion_rate",
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "repeat_rate",
)


def bounds(kind: str, on: date) -> tuple[date, date]:
    """The first day and the day after the last of the `kind` period holding `on`."""
    if kind == "day":
        return on, on + timedelta(days=1)
    if kind == "week":  # Monday to Sunday
        first = on - timedelta(days=on.weekday())
        return first, first + timedelta(days=7)
    if kind == "month":
        first = on.replace(day=1)
        return first, (first + timedelta(days=32)).replace(day=1)
    raise InvalidInput(
        "period must be day, week or month", "报告周期须为 day、week 或 month", field="period"
    )


def previous(kind: str, first: date) -> tuple[date, date]:
    return bounds(kind, first - timedelta(days=1))


def last_complete(kind: str) -> date:
    """A day of the last complete period of `kind` (yesterday, last week, last month)
    in the city's calendar: what a report shows unless asked for another."""
    today = local_today()
    if kind == "week":
        return today - timedelta(days=today.weekday() + 1)
    if kind == "month":
        return today.replace(day=1) - timedelta(days=1)
    return today - timedelta(days=1)


@dataclass
class Share:
    key: str
    name: str
    count: int
    share: float | None
    before: int = 0

    @property
    def change(self) -> float | None:
        return (self.count - self.before) / self.before if self.before else None


@dataclass
class PeriodReport:
    kind: str
    first: date
    last: date
    start: datetime
    end: datetime
    accepted: int
    accepted_before: int
    closed: int
    types: list[Share]
    channels: list[Share]
    categories: list[Share]
    rises: list[Share]
    figures: dict[str, float | None]
    figures_before: dict[str, float | None]
    ranking: dict[str, list[dict[str, Any]]]
    alerts: list[HotspotAlert]
    alert_count: int

    @property
    def change(self) -> float | None:
        if not self.accepted_before:
            return None
        return (self.accepted - self.accepted_before) / self.accepted_before


def _shares(now: Report, before: Report | None = None) -> list[Share]:
    """Each group's requests accepted, its share of the period's, and the count before."""
    earlier = (
        {row["key"]: int(row["counts"].get("accepted", 0)) for row in before.rows} if before else {}
    )
    total = sum(int(row["counts"].get("accepted", 0)) for row in now.rows)
    found = [
        Share(
            str(row["key"] or ""),
            row["name"] or str(row["key"] or ""),
            int(row["counts"].get("accepted", 0)),
            int(row["counts"].get("accepted", 0)) / total if total else None,
            earlier.get(row["key"], 0),
        )
        for row in now.rows
        if row["counts"].get("accepted")
    ]
    return sorted(found, key=lambda s: (-s.count, s.key))


def build(kind: str, on: date) -> PeriodReport:
    from hotline.dashboard import ranking

    first, after = bounds(kind, on)
    before_first, before_after = previous(kind, first)
    start, end = day_start(first), day_start(after)
    before = (day_start(before_first), day_start(before_after))
    # Every grouped report carries the period's total too: the categories' gives both.
    by_category, by_category_before = report(start, end, "category"), report(*before, "category")
    total, total_before = by_category, by_category_before
    categories = _shares(by_category, by_category_before)
    rises = [s for s in categories if s.key and s.count >= RISE_MIN and s.count > s.before]
    rises.sort(key=lambda s: (-(s.count - s.before), s.key))
    in_period = (HotspotAlert.raised_at >= start, HotspotAlert.raised_at < end)
    alert_count = db.session.scalar(select(func.count(HotspotAlert.id)).where(*in_period))
    alerts = db.session.scalars(
        select(HotspotAlert).where(*in_period).order_by(HotspotAlert.raised_at.desc()).limit(TOP)
    ).all()
    return PeriodReport(
        kind=kind,
        first=first,
        last=after - timedelta(days=1),
        start=start,
        end=end,
        accepted=int(total.total["counts"].get("accepted", 0)),
        accepted_before=int(total_before.total["counts"].get("accepted", 0)),
        closed=int(total.total["counts"].get("closed_in_period", 0)),
        types=_shares(report(start, end, "type")),
        channels=_shares(report(start, end, "channel")),
        categories=[s for s in categories if s.key][:TOP],
        rises=rises[:TOP],
        figures={n: total.total["metrics"][n] for n in KEY_FIGURES},
        figures_before={n: total_before.total["metrics"][n] for n in KEY_FIGURES},
        ranking=ranking(start, end),
        alerts=list(alerts),
        alert_count=int(alert_count or 0),
    )


def rows(found: PeriodReport) -> tuple[list[str], list[list[Any]]]:
    """The report as one table (section, item, this period, previous, share or change),
    for the XLSX and CSV downloads."""
    header = ["section", "item", "value", "previous", "share_or_change"]
    table: list[list[Any]] = [
        ["volume", "accepted", found.accepted, found.accepted_before, found.change],
        ["volume", "closed", found.closed, None, None],
    ]
    table += [["type", s.key, s.count, None, s.share] for s in found.types]
    table += [["channel", s.key, s.count, None, s.share] for s in found.channels]
    table += [["category", s.name, s.count, s.before, s.share] for s in found.categories]
    table += [["rise", s.name, s.count, s.before, s.change] for s in found.rises]
    table += [
        ["figure", name, found.figures[name], found.figures_before[name], None]
        for name in KEY_FIGURES
    ]
    for kind, ranked in found.ranking.items():
        table += [
            [f"ranking:{kind}", row["name"], row["metrics"]["composite"], None, place]
            for place, row in enumerate(ranked, 1)
        ]
    table += [["warning", a.title, a.count, a.baseline, None] for a in found.alerts]
    return header, table
