"""The hotline's figures (DOMAIN.md "KPIs"), per period and grouped by unit, category,
channel, territory, agent or type, each computed by SQL aggregates over indexed
columns; whole days that have ended are read from the daily rollup that
hotline.kpi_rollup keeps with these same aggregates.

Each figure counts a population of its own within [start, end):

- calls (not practice calls, not handed to an emergency line), by `started_at`:
  接通率 answer_rate = answered / reached an agent's queue; 15秒接通率 answer_rate_15s
  = answered within 15 s / answered; avg_speed_of_answer_s; abandon_rate = abandoned
  / reached the queue; avg_handle_time_s = talk time / answered;
- tickets accepted, by `received_at`: 直接答复率 direct_answer_rate = answered directly
  / accepted; 重复诉求率 repeat_rate = merged as duplicates (or flagged) / accepted;
- assignments (each unit a ticket went to), by `dispatched_at`: 及时签收率
  timely_sign_rate = signed by the sign deadline / assignments; 退单率 return_rate =
  send-backs / assignments; 不当退单率 wrongful_return_rate = send-backs refused as
  wrongful / send-backs decided (send-backs by `requested_at`);
- tickets due, by `due_at` (deadlines already passed): 按时办结率 on_time_rate =
  replied by the deadline (an extension moves it) / due; 超期率 overdue_rate = the
  rest / due;
- tickets dispatched, by `dispatched_at`: 办结率 completion_rate = closed / dispatched;
- valid visits, by `visited_at`: each ticket's latest reached visit (a later one
  replaces it, wherever it falls, so days add up): 响应率 response_rate = timely
  contact confirmed (or, not asked, first contact before the deadline) / valid visits;
  解决率 resolution_rate = (solved + w·partly) / rated; 满意率 satisfaction_rate =
  (satisfied + w·basic) / rated; 重办率 redo_rate = redone / valid;
- visit attempts, by `visited_at`: 有效回访率 valid_visit_rate = attempts that reached
  the citizen / attempts (回访总量).

composite = Σ KPI_WEIGHTS · rate − Σ KPI_DEDUCTIONS · rate (None until 响应率, 解决率
and 满意率 all exist). Rates are fractions 0–1, None where the denominator is 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from hotline.errors import InvalidInput
from hotline.extensions import db
from hotline.models import (
    Assignment,
    CallRecord,
    Category,
    Department,
    ReturnRequest,
    Territory,
    Ticket,
    User,
    Visit,
    utcnow,
)
from hotline.models.enums import Disposition, Satisfaction, Solved, TicketStatus
from hotline.models.ops import KPI_COUNTS

GROUPS = ("department", "category", "channel", "territory", "agent", "type")
# Each figure's name and formula, shown beside its number.
DEFINITIONS: dict[str, tuple[str, str]] = {
    "answer_rate": ("接通率", "接听来电 / 进入人工队列的来电"),
    "answer_rate_15s": ("15秒接通率", "15秒内接听 / 接听来电"),
    "avg_speed_of_answer_s": ("平均应答时长（秒）", "接听前排队秒数之和 / 接听来电"),
    "abandon_rate": ("放弃率", "排队中挂断 / 进入人工队列的来电"),
    "avg_handle_time_s": ("平均通话时长（秒）", "通话秒数之和 / 接听来电"),
    "direct_answer_rate": ("直接答复率", "直接答复 / 受理工单"),
    "timely_sign_rate": ("及时签收率", "签收时限内签收 / 派单（每个承办单位一次）"),
    "return_rate": ("退单率", "退单申请 / 派单"),
    "wrongful_return_rate": ("不当退单率", "被驳回的退单 / 已审核的退单"),
    "on_time_rate": ("按时办结率", "时限（含延期）内答复 / 时限届满的工单"),
    "overdue_rate": ("超期率", "超过时限答复或未答复 / 时限届满的工单"),
    "completion_rate": ("办结率", "已办结 / 派出的工单"),
    "response_rate": ("响应率", "回访确认及时联系（未问则时限内首次联系） / 有效回访"),
    "resolution_rate": ("解决率", "（已解决 + w×部分解决） / 有评价的回访"),
    "satisfaction_rate": ("满意率", "（满意 + w×基本满意） / 有评价的回访"),
    "redo_rate": ("重办率", "重办 / 有效回访"),
    "repeat_rate": ("重复诉求率", "并单的重复诉求 / 受理工单"),
    "valid_visit_rate": ("有效回访率", "接通的回访 / 回访次数"),
    "composite": (
        "综合得分",
        "0.30×响应率 + 0.35×解决率 + 0.35×满意率 − 扣分（KPI_WEIGHTS, KPI_DEDUCTIONS）",
    ),
}
ANSWERED_WITHIN_S = 15


@dataclass
class Figures:
    counts: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, value: Any) -> None:
        self.counts[name] = self.counts.get(name, 0) + float(value or 0)

    def whole_counts(self) -> dict[str, int]:
        """Every count (KPI_COUNTS), 0 where nothing was counted."""
        return {name: int(self.counts.get(name, 0)) for name in KPI_COUNTS}

    def metrics(self) -> dict[str, float | None]:
        c = self.counts.get
        config = current_app.config

        def rate(top: float, bottom: float) -> float | None:
            return top / bottom if bottom else None

        partly = float(config["KPI_PARTLY_SOLVED_WEIGHT"])
        basic = float(config["KPI_BASIC_SATISFIED_WEIGHT"])
        rated = c("visits_rated", 0)
        found: dict[str, float | None] = {
            "answer_rate": rate(c("calls_answered", 0), c("calls_inbound", 0)),
            "answer_rate_15s": rate(c("calls_answered_15s", 0), c("calls_answered", 0)),
            "avg_speed_of_answer_s": rate(c("answer_wait_s", 0), c("calls_answered", 0)),
            "abandon_rate": rate(c("calls_abandoned", 0), c("calls_inbound", 0)),
            "avg_handle_time_s": rate(c("talk_time_s", 0), c("calls_answered", 0)),
            "direct_answer_rate": rate(c("direct_answers", 0), c("accepted", 0)),
            "timely_sign_rate": rate(c("signed_in_time", 0), c("assignments", 0)),
            "return_rate": rate(c("returns", 0), c("assignments", 0)),
            "wrongful_return_rate": rate(c("wrongful_returns", 0), c("returns_decided", 0)),
            "on_time_rate": rate(c("on_time", 0), c("due", 0)),
            "overdue_rate": rate(c("due", 0) - c("on_time", 0), c("due", 0)),
            "completion_rate": rate(c("closed", 0), c("dispatched", 0)),
            "response_rate": rate(c("timely_contact", 0), c("visits_valid", 0)),
            "resolution_rate": rate(c("solved", 0) + partly * c("partly_solved", 0), rated),
            "satisfaction_rate": rate(
                c("satisfied", 0) + basic * c("basically_satisfied", 0), rated
            ),
            "redo_rate": rate(c("redone", 0), c("visits_valid", 0)),
            "repeat_rate": rate(c("repeats", 0), c("accepted", 0)),
            "valid_visit_rate": rate(c("visits_reached", 0), c("visited", 0)),
        }
        found["composite"] = composite(found)
        return {name: None if value is None else round(value, 6) for name, value in found.items()}


def composite(metrics: dict[str, float | None]) -> float | None:
    weights: dict[str, float] = current_app.config["KPI_WEIGHTS"]
    if any(metrics.get(name) is None for name in weights):
        return None
    score = sum(w * float(metrics[name] or 0) for name, w in weights.items())
    for name, w in current_app.config["KPI_DEDUCTIONS"].items():
        score -= w * float(metrics.get(name) or 0)
    return score


@dataclass
class Report:
    start: datetime
    end: datetime
    group_by: str | None
    rows: list[dict[str, Any]]
    total: dict[str, Any]


def _ticket_key(group_by: str | None) -> Any:
    return {
        "department": Ticket.department_id,
        "category": Ticket.category_id,
        "channel": Ticket.channel,
        "territory": Ticket.territory_id,
        "agent": Ticket.accepted_by_id,
        "type": Ticket.type,
        None: None,
    }[group_by]


def local_day(column: Any) -> Any:
    """The city's calendar day of a UTC time column, in SQL."""
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    if db.engine.dialect.name == "postgresql":
        return func.date(func.timezone(current_app.config["TIMEZONE"], column))
    offset = utcnow().astimezone(zone).utcoffset()
    hours = offset.total_seconds() / 3600 if offset else 0.0
    return func.date(column, f"{hours:+g} hours")


@dataclass
class Span:
    """What one aggregate covers: [start, end), and whether it counts per city day (the
    rollup's grain) as well as per group."""

    start: datetime
    end: datetime
    by_day: bool = False


def _keys(span: Span, time_column: Any, key: Any) -> list[Any]:
    keys = [local_day(time_column)] if span.by_day else []
    return keys + ([key] if key is not None else [])


def _collect(
    into: dict[Any, Figures], span: Span, key: Any, statement: Any, names: tuple[str, ...]
) -> None:
    """Run one aggregate statement (its first columns the day, when counted by day, and
    the group key, unless `key` is None) and add its other columns to the groups' counts
    under `names`. Groups are keyed (day or None, group key or None)."""
    width = int(span.by_day) + int(key is not None)
    for row in db.session.execute(statement):
        values = list(row)
        head, values = values[:width], values[width:]
        day = str(head.pop(0)) if span.by_day else None
        group = head[0] if head else None
        figures = into.setdefault((day, group), Figures())
        for name, value in zip(names, values, strict=True):
            figures.add(name, value)


def _select(keys: list[Any], *columns: Any) -> Any:
    return select(*keys, *columns)


def _grouped(statement: Any, keys: list[Any]) -> Any:
    return statement.group_by(*keys) if keys else statement


def call_figures(start: datetime, end: datetime) -> dict[str, float | None]:
    """The call figures alone for [start, end) (the wallboard's today)."""
    found: dict[Any, Figures] = {}
    _calls(found, None, Span(start, end))
    return found.get((None, None), Figures()).metrics()


def _calls(into: dict[Any, Figures], group_by: str | None, span: Span) -> None:
    if group_by not in (None, "agent", "channel"):
        return  # calls belong to no unit, category, territory or type
    if group_by == "channel":  # every call is the phone channel's
        phone: dict[Any, Figures] = {}
        _calls(phone, None, span)
        for (day, _none), figures in phone.items():
            into.setdefault((day, "phone"), Figures()).counts.update(figures.counts)
        return
    key = CallRecord.agent_id if group_by == "agent" else None
    keys = _keys(span, CallRecord.started_at, key)
    answered = CallRecord.answered_at.is_not(None)
    reached = or_(CallRecord.queued_at.is_not(None), answered)
    practice = CallRecord.data["practice"].as_boolean()
    statement = _select(
        keys,
        func.count(case((reached, 1))),
        func.count(case((answered, 1))),
        func.count(case((and_(answered, CallRecord.queue_wait_s <= ANSWERED_WITHIN_S), 1))),
        func.count(case((and_(reached, CallRecord.abandoned.is_(True), ~answered), 1))),
        func.coalesce(func.sum(case((answered, CallRecord.queue_wait_s))), 0),
        func.coalesce(func.sum(case((answered, CallRecord.duration_s))), 0),
    ).where(
        CallRecord.started_at >= span.start,
        CallRecord.started_at < span.end,
        CallRecord.emergency_line.is_(None),
        or_(practice.is_(None), practice.is_(False)),
    )
    names = (
        "calls_inbound",
        "calls_answered",
        "calls_answered_15s",
        "calls_abandoned",
        "answer_wait_s",
        "talk_time_s",
    )
    _collect(into, span, key, _grouped(statement, keys), names)


def _accepted(into: dict[Any, Figures], group_by: str | None, span: Span) -> None:
    key = _ticket_key(group_by)
    keys = _keys(span, Ticket.received_at, key)
    repeat = or_(Ticket.status == TicketStatus.MERGED, Ticket.is_repeat.is_(True))
    statement = _select(
        keys,
        func.count(Ticket.id),
        func.count(case((Ticket.disposition == Disposition.DIRECT_ANSWER, 1))),
        func.count(case((repeat, 1))),
    ).where(Ticket.received_at >= span.start, Ticket.received_at < span.end)
    names = ("accepted", "direct_answers", "repeats")
    _collect(into, span, key, _grouped(statement, keys), names)
    keys = _keys(span, Ticket.closed_at, key)
    closings = _select(keys, func.count(Ticket.id)).where(
        Ticket.closed_at >= span.start, Ticket.closed_at < span.end
    )
    _collect(into, span, key, _grouped(closings, keys), ("closed_in_period",))


def _assignments(into: dict[Any, Figures], group_by: str | None, span: Span) -> None:
    key = Assignment.department_id if group_by == "department" else _ticket_key(group_by)
    if group_by == "agent":
        key = Assignment.dispatched_by_id
    keys = _keys(span, Assignment.dispatched_at, key)
    in_time = and_(
        Assignment.signed_at.is_not(None), Assignment.signed_at <= Assignment.sign_due_at
    )
    statement = (
        _select(keys, func.count(Assignment.id), func.count(case((in_time, 1))))
        .join(Ticket, Ticket.id == Assignment.ticket_id)
        .where(Assignment.dispatched_at >= span.start, Assignment.dispatched_at < span.end)
    )
    _collect(into, span, key, _grouped(statement, keys), ("assignments", "signed_in_time"))
    back_key = ReturnRequest.department_id if group_by == "department" else _ticket_key(group_by)
    if group_by == "agent":
        back_key = ReturnRequest.requested_by_id
    keys = _keys(span, ReturnRequest.requested_at, back_key)
    decided = ReturnRequest.decision != "pending"
    returns = (
        _select(
            keys,
            func.count(ReturnRequest.id),
            func.count(case((decided, 1))),
            func.count(case((and_(decided, ReturnRequest.wrongful.is_(True)), 1))),
        )
        .join(Ticket, Ticket.id == ReturnRequest.ticket_id)
        .where(ReturnRequest.requested_at >= span.start, ReturnRequest.requested_at < span.end)
    )
    names = ("returns", "returns_decided", "wrongful_returns")
    _collect(into, span, back_key, _grouped(returns, keys), names)


def _deadlines(into: dict[Any, Figures], group_by: str | None, span: Span) -> None:
    key = _ticket_key(group_by)
    keys = _keys(span, Ticket.due_at, key)
    on_time = and_(Ticket.replied_at.is_not(None), Ticket.replied_at <= Ticket.due_at)
    due = _select(keys, func.count(Ticket.id), func.count(case((on_time, 1)))).where(
        Ticket.due_at >= span.start,
        Ticket.due_at < min(span.end, utcnow()),
        Ticket.status != TicketStatus.MERGED,
    )
    _collect(into, span, key, _grouped(due, keys), ("due", "on_time"))
    keys = _keys(span, Ticket.dispatched_at, key)
    closed = _select(
        keys, func.count(Ticket.id), func.count(case((Ticket.status == TicketStatus.CLOSED, 1)))
    ).where(Ticket.dispatched_at >= span.start, Ticket.dispatched_at < span.end)
    _collect(into, span, key, _grouped(closed, keys), ("dispatched", "closed"))


def _visits(into: dict[Any, Figures], group_by: str | None, span: Span) -> None:
    key = _ticket_key(group_by)
    keys = _keys(span, Visit.visited_at, key)
    in_period = and_(Visit.visited_at >= span.start, Visit.visited_at < span.end)
    # A ticket's latest reached visit speaks for it (its earlier ones were redone): a
    # visit counts on its own day unless a later one replaced it, so days add up.
    later = aliased(Visit)
    replaced = (
        select(later.id)
        .where(later.ticket_id == Visit.ticket_id, later.reached.is_(True), later.id > Visit.id)
        .exists()
    )
    contact = or_(
        Visit.timely_contact.is_(True),
        and_(
            Visit.timely_contact.is_(None),
            Ticket.first_contact_at.is_not(None),
            Ticket.first_contact_at <= Ticket.due_at,
        ),
    )
    statement = (
        _select(
            keys,
            func.count(Visit.id),
            func.count(case((Visit.satisfaction.is_not(None), 1))),
            func.count(case((contact, 1))),
            func.count(case((Visit.solved == Solved.SOLVED, 1))),
            func.count(case((Visit.solved == Solved.PARTLY, 1))),
            func.count(case((Visit.satisfaction == Satisfaction.SATISFIED, 1))),
            func.count(case((Visit.satisfaction == Satisfaction.BASIC, 1))),
            func.count(case((Visit.redo.is_(True), 1))),
        )
        .select_from(Visit)
        .join(Ticket, Ticket.id == Visit.ticket_id)
        .where(in_period, Visit.reached.is_(True), ~replaced)
    )
    names = (
        "visits_valid",
        "visits_rated",
        "timely_contact",
        "solved",
        "partly_solved",
        "satisfied",
        "basically_satisfied",
        "redone",
    )
    _collect(into, span, key, _grouped(statement, keys), names)
    attempts = (
        _select(keys, func.count(Visit.id), func.count(case((Visit.reached.is_(True), 1))))
        .select_from(Visit)
        .join(Ticket, Ticket.id == Visit.ticket_id)
        .where(in_period)
    )
    _collect(into, span, key, _grouped(attempts, keys), ("visited", "visits_reached"))


PARTS: tuple[Callable[[dict[Any, Figures], str | None, Span], None], ...] = (
    _calls,
    _accepted,
    _assignments,
    _deadlines,
    _visits,
)


def _labels(group_by: str | None, keys: list[Any]) -> dict[Any, tuple[str, str]]:
    """(code, name) of each group key: a unit's code and name, an agent's username and
    display name …; a channel or a request type is its own code."""
    ids = [k for k in keys if k is not None]
    if group_by in ("channel", "type") or not ids:
        return {k: (str(k), str(k)) for k in ids}
    model, code, name = {
        "department": (Department, Department.code, Department.name),
        "category": (Category, Category.code, Category.name),
        "territory": (Territory, Territory.code, Territory.name),
        "agent": (User, User.username, User.display_name),
    }[group_by or "department"]
    rows = db.session.execute(select(model.id, code, name).where(model.id.in_(ids))).all()
    return {row[0]: (row[1], row[2] or "") for row in rows}


def report(start: datetime, end: datetime, group_by: str | None = None) -> Report:
    """Every figure for [start, end) (aware datetimes), overall and per group."""
    if group_by not in (None, *GROUPS):
        raise InvalidInput(
            f"group_by must be one of {', '.join(GROUPS)}",
            "group_by 须为 department、category、channel、territory、agent、type 之一",
            field="group_by",
        )
    if end <= start:
        raise InvalidInput("to must be after from", "结束时间须晚于开始时间", field="to")
    from hotline.kpi_rollup import gather

    total = gather(start, end, None)
    groups = {key: f for (_day, key), f in gather(start, end, group_by).items()} if group_by else {}
    labels = _labels(group_by, [k for k in groups if k is not None])
    rows = [
        {
            "key": labels.get(k, (k, ""))[0] if k is not None else None,
            "name": labels.get(k, (k, ""))[1] if k is not None else "",
            "counts": figures.whole_counts(),
            "metrics": figures.metrics(),
        }
        for k, figures in sorted(
            groups.items(), key=lambda item: str(labels.get(item[0], ("",))[0])
        )
    ]
    whole = total.get((None, None), Figures())
    return Report(
        start,
        end,
        group_by,
        rows,
        {"counts": whole.whole_counts(), "metrics": whole.metrics()},
    )
