"""The screen pop (来电弹屏): what an agent sees the moment a call is put through to them,
and the ticket they make of it in one step.

- `answered_calls(agent)`: the agent's calls on the line now (answered, not ended);
- `caller_history(call, viewer)`: the caller's tickets by phone, open ones first;
- `suggestions(...)`: the knowledge base's answers, routing's top three units with
  their reasons, and the deadline the ticket would get;
- `take_call(...)`: the ticket made from the call (phone channel, the line dialled and
  its preset category), linked to the call, and at once acted on when the agent chose
  an outcome: answered directly from an article, dispatched, rejected, or handed to
  110/119/120/122. A form sent twice gives the one ticket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, select

from hotline.errors import InvalidInput, PermissionDenied
from hotline.extensions import db
from hotline.models import OPEN_STATUSES, CallRecord, Contact, Role, Ticket, User, utcnow
from hotline.models.enums import TicketStatus, TicketType, Urgency

HISTORY_LIMIT = 20
# A call still "on the line" for the console: answered within this long and not ended.
ON_LINE_FOR = timedelta(hours=4)
TAKERS = frozenset({Role.AGENT, Role.DISPATCHER, Role.ADMIN})
# What a call may end in at once, besides staying accepted for the desk.
OUTCOMES = ("answer_directly", "dispatch", "reject", "hand_to_emergency")


def answered_calls(agent: User, *, now: datetime | None = None) -> list[CallRecord]:
    """The agent's calls on the line: answered by them, not yet ended, newest first."""
    since = (now or utcnow()) - ON_LINE_FOR
    return list(
        db.session.scalars(
            select(CallRecord)
            .where(
                CallRecord.agent_id == agent.id,
                CallRecord.status == "answered",
                CallRecord.ended_at.is_(None),
                CallRecord.answered_at >= since,
            )
            .order_by(CallRecord.answered_at.desc())
            .limit(5)
        )
    )


@dataclass
class PastTicket:
    reference: str
    title: str
    status: str
    received_at: datetime
    is_open: bool
    unit: str | None
    type: str


def caller_history(call: CallRecord, *, limit: int = HISTORY_LIMIT) -> list[PastTicket]:
    """The tickets filed from the caller's phone: open ones first, then newest first.
    Confidential tickets are listed by reference and state only (their titles may name
    the caller's matter to someone looking over the agent's shoulder)."""
    if not call.phone_hash:
        return []
    open_first = case((Ticket.status.in_(OPEN_STATUSES), 0), else_=1)
    rows = db.session.scalars(
        select(Ticket)
        .join(Contact, Ticket.contact_id == Contact.id)
        .where(Contact.phone_hash == call.phone_hash)
        .order_by(open_first, Ticket.received_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    return [
        PastTicket(
            reference=t.reference,
            title="" if t.confidential else t.title,
            status=t.status,
            received_at=t.received_at,
            is_open=t.status in OPEN_STATUSES,
            unit=t.department.short_name if t.department else None,
            type=t.type,
        )
        for t in rows
    ]


def suggestions(
    text: str,
    *,
    address: str | None = None,
    phone: str | None = None,
    kind: str | None = None,
    urgency: str | None = None,
    received_at: datetime | None = None,
) -> dict[str, Any]:
    """What the agent needs while typing: the knowledge base's three best answers,
    routing's three best units with reasons, and the deadline preview."""
    from hotline.clock.service import preview
    from knowledge_base.search import search
    from routing.suggest import suggest

    text = (text or "").strip()[:10000]
    result: dict[str, Any] = {"kb": [], "routing": [], "deadline": None}
    if text:
        hits = search(text, channel="hotline", limit=3).hits
        result["kb"] = [{"key": h.key, "title": h.title, "snippet": h.snippet} for h in hits]
        result["routing"] = [s.as_dict() for s in suggest(text, address or None, phone)]
    if kind in {t.value for t in TicketType}:
        level = urgency if urgency in {u.value for u in Urgency} else Urgency.GENERAL.value
        due = preview(kind, level, received_at or datetime.now(UTC))
        result["deadline"] = {
            "sign_due_at": due["sign_due_at"],
            "due_at": due["due_at"],
            "provisional": due["provisional"],
        }
    return result


def take_call(
    call_sid: str,
    agent: User,
    ticket_fields: Mapping[str, Any],
    *,
    nonce: str,
    outcome: str | None = None,
    arguments: Mapping[str, Any] | None = None,
) -> tuple[Ticket, bool]:
    """The ticket made from the call, linked to it, then acted on with `outcome` (if any)
    and its `arguments`, already checked with the action's schema (web.desk.forms.checked)
    so a mistyped outcome writes nothing.

    Returns (ticket, created). `nonce` is the form's own id: the same form sent twice
    returns the first ticket; its decision is carried out if the ticket still waits for
    one (the first attempt was refused and the agent sent the form again), never twice.
    A call put through to one agent is taken by that agent (or a dispatcher or admin)."""
    from hotline.intake.voice_agents import link_call_to_ticket, new_ticket_for_call
    from hotline.tickets.service import open_ticket, perform

    if agent.role not in TAKERS:
        raise PermissionDenied(f"role {agent.role!r} does not accept calls", "当前角色无权受理来电")
    if outcome is not None and outcome not in OUTCOMES:
        raise InvalidInput(
            f"outcome must be one of {', '.join(OUTCOMES)}", "处理方式无效", field="then"
        )
    call = db.session.scalar(select(CallRecord).where(CallRecord.call_sid == call_sid))
    if (
        call is not None
        and call.agent_id not in (None, agent.id)
        and agent.role not in (Role.DISPATCHER, Role.ADMIN)
    ):
        raise PermissionDenied(
            "this call was put through to another agent", "该来电已转接给其他话务员"
        )
    new = new_ticket_for_call(call_sid, **ticket_fields, external_id=f"call:{nonce}"[:64])
    ticket, created = open_ticket(new, agent)
    if created:
        link_call_to_ticket(call_sid, ticket)
    if outcome is not None and ticket.status == TicketStatus.ACCEPTED:
        ticket = perform(ticket.reference, outcome, agent, dict(arguments or {}))
    return ticket, created
