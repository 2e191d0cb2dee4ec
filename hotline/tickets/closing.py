"""Closing paths: follow-up visit (回访) with redo (重办), direct answer, rejection,
hand-off to an emergency line, merging duplicates (并单) — and, through them, the
closing of the duplicates and the incident group that follow a ticket."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hotline.errors import InvalidInput, InvalidTransition, NotFound, RuleViolation
from hotline.extensions import db
from hotline.models import (
    Article,
    IncidentGroup,
    Ticket,
    TicketArticle,
    TicketStatus,
    User,
    Visit,
    utcnow,
)
from hotline.models.enums import Disposition, EmergencyLine, RejectReason, Satisfaction, Solved
from hotline.tickets import common, lifecycle
from hotline.tickets.common import begin_action, config, handling_deadline, record


def close(ticket: Ticket, actor: User | None, disposition: str) -> None:
    """Close the ticket with its merged duplicates; a group's parent closes the group."""
    common.close(ticket, actor, disposition)
    if ticket.incident_group_id is not None:
        group = db.session.get(IncidentGroup, ticket.incident_group_id)
        if group is not None and group.parent_reference == ticket.reference:
            group.closed_at = ticket.closed_at


def visit_ticket(
    reference: str,
    actor: User | None,
    *,
    reached: bool,
    solved: str | None = None,
    satisfaction: str | None = None,
    redo: bool | None = None,
    method: str = "phone",
    timely_contact: bool | None = None,
    note: str | None = None,
) -> Ticket:
    """Record a visit: unreachable N times closes; dissatisfied reopens (重办) unless redo=False.

    `actor` None is the SMS survey (hotline.visits): the citizen's own answer, or no
    answer in time."""
    if actor is not None:
        ticket = begin_action(reference, "visit", actor)
    else:
        ticket = common.load_for_update(reference)
        if ticket.status != TicketStatus.PENDING_VISIT:
            raise InvalidTransition(
                f"ticket {reference} is not waiting for its follow-up visit",
                f"工单 {reference} 不在待回访状态",
            )
    now = utcnow()
    ticket.visit_survey_at = None  # any survey outstanding is answered or given up
    if not reached:
        ticket.visit_attempts += 1
        db.session.add(
            Visit(
                ticket_id=ticket.id,
                method=method,
                reached=False,
                note=note,
                visited_by_id=actor.id if actor is not None else None,
                visited_at=now,
            )
        )
        gave_up = ticket.visit_attempts >= config()["VISIT_MAX_ATTEMPTS"]
        if gave_up:
            close(ticket, actor, Disposition.UNREACHABLE)
        record(
            ticket,
            "visit",
            actor,
            to_status=TicketStatus.CLOSED if gave_up else None,
            note=note,
            reached=False,
            attempt=ticket.visit_attempts,
            unreachable=gave_up or None,
        )
        db.session.commit()
        return ticket
    if solved not in {s.value for s in Solved}:
        raise InvalidInput(
            "solved must be solved, partly or unsolved", "请选择问题是否解决", field="solved"
        )
    if satisfaction not in {s.value for s in Satisfaction}:
        raise InvalidInput(
            "satisfaction must be satisfied, basic or dissatisfied",
            "请选择满意度",
            field="satisfaction",
        )
    reopen = satisfaction == Satisfaction.DISSATISFIED and redo is not False
    db.session.add(
        Visit(
            ticket_id=ticket.id,
            method=method,
            reached=True,
            solved=solved,
            satisfaction=satisfaction,
            timely_contact=timely_contact,
            redo=reopen,
            note=note,
            visited_by_id=actor.id if actor is not None else None,
            visited_at=now,
        )
    )
    if reopen:
        ticket.redo_count += 1
        due = handling_deadline(ticket, now)
        ticket.due_at = due.at
        ticket.deadline_provisional = due.provisional
        ticket.reply_result = None
        ticket.replied_at = None
        ticket.visit_due_at = None
        record(
            ticket,
            "visit",
            actor,
            to_status=TicketStatus.IN_PROGRESS,
            note=note,
            reached=True,
            solved=solved,
            satisfaction=satisfaction,
            redo=True,
            redo_count=ticket.redo_count,
            due_at=ticket.due_at,
        )
    else:
        close(ticket, actor, Disposition.VISITED)
        record(
            ticket,
            "visit",
            actor,
            to_status=TicketStatus.CLOSED,
            note=note,
            reached=True,
            solved=solved,
            satisfaction=satisfaction,
            redo=False,
        )
    db.session.commit()
    return ticket


def answer_directly(reference: str, actor: User, *, articles: list[str], text: str) -> Ticket:
    """直接答复 from the knowledge base; the articles used are kept on the ticket."""
    ticket = begin_action(reference, "answer_directly", actor)
    if not text.strip():
        raise InvalidInput("answer text is required", "请填写答复内容", field="text")
    keys = list(dict.fromkeys(a.strip() for a in articles if a.strip()))
    known = (
        set(db.session.scalars(select(Article.key).where(Article.key.in_(keys)))) if keys else set()
    )
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise InvalidInput(
            f"unknown knowledge-base article(s): {', '.join(unknown)}",
            f"知识库文章不存在：{'、'.join(unknown)}",
            field="articles",
        )
    for key in keys:
        db.session.add(TicketArticle(ticket_id=ticket.id, article_key=key))
    ticket.reply_text = text
    ticket.replied_at = utcnow()
    ticket.reply_result = "explained"
    close(ticket, actor, Disposition.DIRECT_ANSWER)
    record(
        ticket, "answer_directly", actor, to_status=TicketStatus.CLOSED, note=text, articles=keys
    )
    db.session.commit()
    if not keys and not ticket.confidential:
        # Answered with no article to cite: what the knowledge base lacks (a gap report
        # for editors; never a confidential caller's words).
        from knowledge_base.search import record_knowledge_gap

        record_knowledge_gap(ticket.content, ticket.channel, reason="no_article")
    return ticket


def reject_ticket(reference: str, actor: User, *, reason: str, note: str | None = None) -> Ticket:
    """不予受理, with the reason the caller is told (litigation, 信访, out of jurisdiction …)."""
    ticket = begin_action(reference, "reject", actor)
    if reason not in {r.value for r in RejectReason}:
        allowed = ", ".join(r.value for r in RejectReason)
        raise InvalidInput(f"reason must be one of: {allowed}", "不予受理理由无效", field="reason")
    ticket.reject_reason = reason
    close(ticket, actor, Disposition.REJECTED)
    record(ticket, "reject", actor, to_status=TicketStatus.CLOSED, note=note, reason=reason)
    db.session.commit()
    return ticket


def hand_to_emergency(reference: str, actor: User, *, line: str, note: str | None = None) -> Ticket:
    """一键转接 110/119/120/122: never taken in, the hand-off is recorded."""
    ticket = begin_action(reference, "hand_to_emergency", actor)
    if line not in {e.value for e in EmergencyLine}:
        raise InvalidInput(
            "line must be 110, 119, 120 or 122", "紧急热线须为 110、119、120 或 122", field="line"
        )
    ticket.emergency_line = line
    close(ticket, actor, Disposition.EMERGENCY)
    record(ticket, "hand_to_emergency", actor, to_status=TicketStatus.CLOSED, note=note, line=line)
    db.session.commit()
    return ticket


def merge_into(ticket: Ticket, target: Ticket, actor: User, **data: Any) -> None:
    """并单 without committing: `ticket` follows `target` and closes with it.

    The caller holds the lock on `ticket`. Duplicates already merged into `ticket`
    move to `target` (closing is one level deep), and a ticket merged into a member
    of an incident group joins the group.
    """
    lifecycle.check("merge", ticket.status, actor.role)
    if target.id == ticket.id:
        raise InvalidInput("a ticket cannot be merged into itself", "不能与自身并单", field="into")
    if target.status in (TicketStatus.CLOSED, TicketStatus.MERGED):
        raise RuleViolation(
            f"ticket {target.reference} is {target.status}; merge into an open ticket",
            f"工单 {target.reference} 已办结或已并单，只能并入办理中的工单",
        )
    group = _group_led_by(ticket)
    if group is not None:
        raise RuleViolation(
            f"ticket {ticket.reference} answers incident group {group.id}; "
            "merge the other ticket into it instead",
            f"工单 {ticket.reference} 是事件组 {group.id} 的主单，请将另一工单并入本单",
        )
    for child in db.session.scalars(select(Ticket).where(Ticket.merged_into_id == ticket.id)):
        child.merged_into_id = target.id
        child.incident_group_id = child.incident_group_id or target.incident_group_id
        record(child, "merge_moved", actor, into=target.reference, via=ticket.reference)
    ticket.merged_into_id = target.id
    ticket.disposition = Disposition.MERGED
    if ticket.incident_group_id is None and target.incident_group_id is not None:
        ticket.incident_group_id = target.incident_group_id
        data.setdefault("group", target.incident_group_id)
    record(ticket, "merge", actor, to_status=TicketStatus.MERGED, into=target.reference, **data)
    record(target, "merged_from", actor, duplicate=ticket.reference)


def _group_led_by(ticket: Ticket) -> IncidentGroup | None:
    if ticket.incident_group_id is None:
        return None
    group = db.session.get(IncidentGroup, ticket.incident_group_id)
    return group if group is not None and group.parent_reference == ticket.reference else None


def merge_ticket(reference: str, actor: User, *, into: str) -> Ticket:
    """并单: a duplicate follows the ticket it is merged into and closes with it."""
    if into == reference:
        raise InvalidInput("a ticket cannot be merged into itself", "不能与自身并单", field="into")
    ticket = begin_action(reference, "merge", actor)
    target = db.session.scalar(select(Ticket).where(Ticket.reference == into))
    if target is None:
        raise NotFound(f"no ticket {into}", f"工单 {into} 不存在", field="into")
    merge_into(ticket, target, actor)
    db.session.commit()
    return ticket
