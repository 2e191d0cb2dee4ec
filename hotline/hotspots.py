"""Early warning (苗头性预警): what supervisors must hear before it reaches the news.

- A **burst**: tickets of one category in one territory within HOTSPOT_WINDOW_HOURS,
  at least HOTSPOT_MIN_TICKETS and at least HOTSPOT_FACTOR times that pair's own usual
  count for such a window (its average over the HOTSPOT_BASELINE_DAYS before). A pair
  raises one alert per window: while the burst goes on it is not raised again.
- A **risk keyword** (RISK_KEYWORDS: 群体, 欠薪, 燃气, 坠落, 自杀 …, editable in
  configuration) in a new request raises one alert per ticket and word.

Alerts are `HotspotAlert` rows claimed by a unique key (INSERT … ON CONFLICT DO
NOTHING), so the sweep that runs them (hotline.sweeps, every round) raises each once
however many workers run; each is pushed to the supervisors (`hotspot.alert`).
Territory and category are those a ticket has (set when it is dispatched).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from hotline.database import insert_once
from hotline.extensions import db
from hotline.models import Category, HotspotAlert, Territory, Ticket, utcnow
from hotline.models.enums import TicketStatus
from hotline.outbox import notify_on_commit

log = logging.getLogger(__name__)

SHOWN = 200  # alerts on the supervisors' page


def _claim(key: str, **values: Any) -> int | None:
    """Insert the alert unless `key` exists; its id, or None when raised already."""
    return insert_once(HotspotAlert, ["key"], key=key, raised_at=utcnow(), **values)


def _push(alert_id: int, kind: str, title: str) -> None:
    notify_on_commit(
        "hotspot.alert", {"id": alert_id, "kind": kind, "title": title}, rooms=["supervisors"]
    )


def _bursts(now: datetime) -> int:
    config = current_app.config
    window = timedelta(hours=float(config["HOTSPOT_WINDOW_HOURS"]))
    least = int(config["HOTSPOT_MIN_TICKETS"])
    factor = float(config["HOTSPOT_FACTOR"])
    baseline_span = timedelta(days=float(config["HOTSPOT_BASELINE_DAYS"]))
    counted = (
        Ticket.category_id.is_not(None),
        Ticket.territory_id.is_not(None),
        Ticket.status != TicketStatus.MERGED,
    )
    groups = db.session.execute(
        select(Ticket.category_id, Ticket.territory_id, func.count(Ticket.id))
        .where(Ticket.received_at > now - window, Ticket.received_at <= now, *counted)
        .group_by(Ticket.category_id, Ticket.territory_id)
        .having(func.count(Ticket.id) >= least)
    ).all()
    raised = 0
    for category_id, territory_id, count in groups:
        before = db.session.scalar(
            select(func.count(Ticket.id)).where(
                Ticket.category_id == category_id,
                Ticket.territory_id == territory_id,
                Ticket.received_at > now - window - baseline_span,
                Ticket.received_at <= now - window,
                *counted,
            )
        )
        usual = (before or 0) / (baseline_span / window)
        if count < factor * usual:
            continue
        # One alert per pair and window: the window the burst began in is its key.
        recent = db.session.scalar(
            select(HotspotAlert.id).where(
                HotspotAlert.kind == "burst",
                HotspotAlert.category_id == category_id,
                HotspotAlert.territory_id == territory_id,
                HotspotAlert.raised_at > now - window,
            )
        )
        if recent is not None:
            continue
        bucket = int(now.timestamp() // window.total_seconds())
        category = db.session.get(Category, category_id)
        territory = db.session.get(Territory, territory_id)
        title = f"{territory.name if territory else ''} {category.name if category else ''}"
        alert_id = _claim(
            f"burst:{category_id}:{territory_id}:{bucket}",
            kind="burst",
            category_id=category_id,
            territory_id=territory_id,
            count=count,
            baseline=round(usual, 2),
            window_from=now - window,
            window_to=now,
            title=f"{title.strip()}：{int(window.total_seconds() // 3600)}小时内{count}件",
        )
        if alert_id is not None:
            _push(alert_id, "burst", title.strip())
            raised += 1
        db.session.commit()
    return raised


def _keywords(now: datetime, since: datetime) -> int:
    words = [w.strip() for w in current_app.config["RISK_KEYWORDS"] if str(w).strip()]
    if not words:
        return 0
    raised = 0
    for word in words:
        rows = db.session.execute(
            select(Ticket.id, Ticket.reference, Ticket.category_id, Ticket.territory_id).where(
                Ticket.received_at > since,
                Ticket.received_at <= now,
                Ticket.content.contains(word, autoescape=True),
            )
        ).all()
        for ticket_id, reference, category_id, territory_id in rows:
            alert_id = _claim(
                f"keyword:{ticket_id}:{word}",
                kind="keyword",
                keyword=word,
                ticket_id=ticket_id,
                category_id=category_id,
                territory_id=territory_id,
                count=1,
                window_from=since,
                window_to=now,
                title=f"风险词“{word}”：工单 {reference}",
            )
            if alert_id is not None:
                _push(alert_id, "keyword", word)
                raised += 1
        db.session.commit()
    return raised


def sweep_hotspots(now: datetime | None = None, *, full: bool = True) -> dict[str, int]:
    """Raise the bursts and risk words found now; returns how many of each."""
    now = now or utcnow()
    # New requests are read for risk words once they arrive: a quick round looks back
    # SWEEP_LOOKBACK_S, a full one a day (a worker outage caught up).
    lookback = (
        timedelta(days=1)
        if full
        else timedelta(seconds=float(current_app.config["SWEEP_LOOKBACK_S"]))
    )
    found = {"hotspot_burst": _bursts(now), "hotspot_keyword": _keywords(now, now - lookback)}
    if any(found.values()):
        log.info("early warning: %s", found)
    return found


def recent_alerts(limit: int = SHOWN) -> list[HotspotAlert]:
    """The newest alerts, for the supervisors' page."""
    return list(
        db.session.scalars(
            select(HotspotAlert)
            .order_by(HotspotAlert.raised_at.desc(), HotspotAlert.id.desc())
            .limit(limit)
        )
    )


def tickets_of(alert: HotspotAlert) -> list[Ticket]:
    """The tickets behind an alert: its ticket, or the burst's pair in its window."""
    if alert.ticket_id is not None:
        ticket = db.session.get(Ticket, alert.ticket_id)
        return [ticket] if ticket is not None else []
    return list(
        db.session.scalars(
            select(Ticket)
            .where(
                Ticket.category_id == alert.category_id,
                Ticket.territory_id == alert.territory_id,
                Ticket.received_at > alert.window_from,
                Ticket.received_at <= alert.window_to,
                Ticket.status != TicketStatus.MERGED,
            )
            .order_by(Ticket.received_at)
            .limit(100)
        )
    )
