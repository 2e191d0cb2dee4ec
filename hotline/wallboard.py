"""The live wallboard's numbers (`/wallboard`): calls waiting and the longest wait,
agents by state, today's answer rate and 15-second rate, tickets opened and closed
today, and how many are overdue. Each is one indexed count or the agents' states in
Redis; the page asks again whenever the centre's room hears a change."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from hotline import console
from hotline.extensions import db
from hotline.kpi import call_figures
from hotline.models import CallRecord, Ticket, utcnow
from hotline.models.enums import TicketStatus
from hotline.sweeps import HANDLING


@dataclass
class Board:
    waiting: int
    longest_since: datetime | None
    agents: dict[str, int] = field(default_factory=dict)
    answer_rate: float | None = None
    answer_rate_15s: float | None = None
    answered_today: int = 0
    opened_today: int = 0
    closed_today: int = 0
    overdue: int = 0


def snapshot(now: datetime | None = None) -> Board:
    now = now or utcnow()
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    today = datetime.combine(now.astimezone(zone).date(), time(), tzinfo=zone)
    waiting, longest = db.session.execute(
        select(func.count(CallRecord.id), func.min(CallRecord.queued_at)).where(
            CallRecord.status == "queued", CallRecord.answered_at.is_(None)
        )
    ).one()
    agents: dict[str, int] = {state: 0 for state in console.AGENT_STATES}
    for record in console.all_states():
        agents[record["state"]] = agents.get(record["state"], 0) + 1
    calls = call_figures(today, now)
    answered = db.session.scalar(
        select(func.count(CallRecord.id)).where(
            CallRecord.answered_at >= today, CallRecord.emergency_line.is_(None)
        )
    )
    opened = db.session.scalar(select(func.count(Ticket.id)).where(Ticket.received_at >= today))
    closed = db.session.scalar(
        select(func.count(Ticket.id)).where(
            Ticket.closed_at >= today, Ticket.status == TicketStatus.CLOSED
        )
    )
    overdue = db.session.scalar(
        select(func.count(Ticket.id)).where(Ticket.status.in_(HANDLING), Ticket.due_at < now)
    )
    return Board(
        waiting=waiting or 0,
        longest_since=longest,
        agents=agents,
        answer_rate=calls["answer_rate"],
        answer_rate_15s=calls["answer_rate_15s"],
        answered_today=answered or 0,
        opened_today=opened or 0,
        closed_today=closed or 0,
        overdue=overdue or 0,
    )
