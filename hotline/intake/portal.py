"""Form intake — the online hall (网上办事大厅) and the walk-in window (窗口): a request with its
attachments, saved all together or not at all; and tracking a ticket by its reference and
the last four digits of the phone, showing only public progress."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import aliased

from hotline.clock.deadlines import Limit, handling_limit, sign_limit
from hotline.clock.service import preview
from hotline.errors import InvalidInput, NotFound
from hotline.extensions import db
from hotline.intake.uploads import Upload, discard_staged, stage_uploads, store_staged
from hotline.models import (
    Attachment,
    Category,
    Channel,
    Department,
    Event,
    Ticket,
    TicketStatus,
    TicketType,
    Urgency,
    User,
)
from hotline.tickets.access import require_view
from hotline.tickets.service import NewTicket, normalise_phone, open_ticket

log = logging.getLogger(__name__)


# --- accepting a request ----------------------------------------------------------


def check_request(new: NewTicket) -> None:
    """Refuse (422) what the ticket must not hold, before any file is written."""
    if new.type not in set(TicketType):
        raise InvalidInput(f"unknown type {new.type!r}", "请选择诉求类型", field="type")
    if new.urgency not in set(Urgency):
        raise InvalidInput(f"unknown urgency {new.urgency!r}", "请选择紧急程度", field="urgency")
    if not new.content.strip():
        raise InvalidInput("content is empty", "诉求内容不能为空", field="content")
    if new.phone and not new.anonymous and not new.keep_invalid_phone:
        normalise_phone(new.phone, current_app.config["DEFAULT_REGION"])
    if new.category:
        category = db.session.scalar(select(Category).where(Category.code == new.category))
        if category is None or category.parent_id is None or not category.active:
            raise InvalidInput(
                f"no second-level category {new.category!r}",
                "请选择有效的二级诉求分类",
                field="category",
            )


def submit_request(
    new: NewTicket, uploads: Sequence[Upload] = (), actor: User | None = None
) -> tuple[Ticket, bool]:
    """Accept a form's request and its attachments; returns (ticket, created).

    Everything is checked first — the fields, then every file (written under a temporary
    name). The ticket, its first event and its Attachment rows commit in one transaction;
    only then are the files moved into place. Any refusal or failure deletes the temporary
    files, so nothing is half-saved. A resubmitted form (same `external_id`) returns the
    first ticket with created False and keeps nothing new.
    """
    check_request(new)
    staged = stage_uploads(uploads)

    def attach(ticket: Ticket) -> None:
        db.session.add_all(
            Attachment(
                ticket_id=ticket.id,
                filename=item.filename,
                content_type=item.content_type,
                size=item.size,
                sha256=item.sha256,
                storage_key=item.storage_key,
                uploaded_by_id=actor.id if actor is not None else None,
            )
            for item in staged
        )

    try:
        ticket, created = open_ticket(new, actor, before_commit=attach if staged else None)
    except BaseException:
        db.session.rollback()
        discard_staged(staged)
        raise
    if not created:
        discard_staged(staged)
        return ticket, False
    for item in store_staged(staged):
        log.error(
            "ticket %s: attachment %s kept at %s, move it to the upload folder by hand",
            ticket.reference,
            item.storage_key,
            item.temp_path,
        )
    log.info(
        "ticket %s accepted from %s with %d attachment(s)",
        ticket.reference,
        new.channel,
        len(staged),
    )
    return ticket, True


def accepted_ticket(reference: str) -> Ticket | None:
    """The ticket a submission's result page names (the browser's session holds it)."""
    return db.session.scalar(select(Ticket).where(Ticket.reference == reference))


# --- what happens next ------------------------------------------------------------


@dataclass(frozen=True)
class Outlook:
    """The deadlines a ticket faces, for the result page and the window receipt.

    The sign limit runs from dispatch (派单): until then `sign_due_at` is what it would be
    if the ticket were dispatched at receipt. The handling limit runs from receipt.
    """

    dispatched: bool
    sign_limit: Limit
    sign_due_at: datetime
    handling_limit: Limit
    due_at: datetime
    provisional: bool


def deadline_outlook(ticket: Ticket) -> Outlook:
    config = current_app.config
    guess = preview(ticket.type, ticket.urgency, ticket.received_at)
    sign_due_at = ticket.sign_due_at if ticket.dispatched_at is not None else None
    return Outlook(
        dispatched=sign_due_at is not None,
        sign_limit=sign_limit(config, ticket.urgency),
        sign_due_at=sign_due_at or guess["sign_due_at"],
        handling_limit=handling_limit(config, ticket.type, ticket.urgency),
        due_at=ticket.due_at or guess["due_at"],
        provisional=bool(guess["provisional"] or ticket.deadline_provisional),
    )


# --- tracking ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProgressStep:
    """One public milestone: accepted, dispatched (to `unit`), replied, closed or merged."""

    kind: str
    at: datetime
    unit: str | None = None


@dataclass(frozen=True)
class TrackedTicket:
    """What a citizen may see of their own ticket: no notes, no staff, no names."""

    reference: str
    status: str
    type: str
    received_at: datetime
    unit: str | None
    due_at: datetime | None
    due_provisional: bool
    closed_at: datetime | None
    reply_text: str | None
    steps: list[ProgressStep]


REPLY_PUBLIC = frozenset({TicketStatus.PENDING_VISIT, TicketStatus.CLOSED})


def track_ticket(reference: str, phone_last4: str) -> TrackedTicket:
    """The public view of a ticket, if `phone_last4` ends the phone it was filed with.

    A wrong reference and wrong digits give the same NotFound, so nobody learns which
    references exist. Confidential tickets track the same way: the citizen owns them.
    """
    reference = re.sub(r"\s", "", reference or "")
    digits = re.sub(r"\D", "", phone_last4 or "")
    ticket = (
        db.session.scalar(select(Ticket).where(Ticket.reference == reference))
        if reference
        else None
    )
    expected = _last4(ticket) if ticket is not None else None
    if len(digits) != 4 or expected is None or not hmac.compare_digest(expected, digits):
        raise NotFound(
            "No ticket matches this reference and these digits.",
            "未找到与该工单编号和手机号码后四位相符的工单，请核对后重试。",
        )
    return TrackedTicket(
        reference=ticket.reference,
        status=ticket.status,
        type=ticket.type,
        received_at=ticket.received_at,
        unit=_unit_name(ticket),
        due_at=_due(ticket),
        due_provisional=ticket.deadline_provisional,
        closed_at=ticket.closed_at,
        reply_text=ticket.reply_text if ticket.status in REPLY_PUBLIC else None,
        steps=_public_steps(ticket),
    )


def _last4(ticket: Ticket) -> str | None:
    phone = ticket.contact.phone if ticket.contact is not None else None
    digits = re.sub(r"\D", "", phone or ticket.caller_phone_raw or "")
    return digits[-4:] if len(digits) >= 4 else None


def _unit_name(ticket: Ticket) -> str | None:
    if ticket.status == TicketStatus.ACCEPTED or ticket.department is None:
        return None
    return ticket.department.short_name


def _due(ticket: Ticket) -> datetime | None:
    if not ticket.is_open:
        return None
    if ticket.due_at is not None:
        return ticket.due_at
    return preview(ticket.type, ticket.urgency, ticket.received_at)["due_at"]


def _public_steps(ticket: Ticket) -> list[ProgressStep]:
    """Milestones from the event log; notes, actors and internal actions are left out."""
    rows = db.session.execute(
        select(Event.action, Event.at, Event.from_status, Event.to_status, Event.department_id)
        .where(Event.ticket_id == ticket.id)
        .order_by(Event.id)
    ).all()
    unit_ids = {row.department_id for row in rows if row.action == "dispatch"}
    units = {
        row.id: row.short_name
        for row in db.session.execute(
            select(Department.id, Department.short_name).where(Department.id.in_(unit_ids))
        )
    }
    steps: list[ProgressStep] = []
    for row in rows:
        if row.action == "accept":
            steps.append(ProgressStep("accepted", row.at))
        elif row.action == "dispatch":
            steps.append(ProgressStep("dispatched", row.at, units.get(row.department_id)))
        elif row.action == "answer_directly" or (
            row.action == "review_reply" and row.to_status == TicketStatus.PENDING_VISIT
        ):
            steps.append(ProgressStep("replied", row.at))
        elif row.action == "merge":
            steps.append(ProgressStep("merged", row.at))
        if row.to_status == TicketStatus.CLOSED and row.from_status != TicketStatus.CLOSED:
            steps.append(ProgressStep("closed", row.at))
    return steps


# --- the window -------------------------------------------------------------------


def category_choices() -> list[tuple[str, str, str]]:
    """Active second-level categories as (code, name, first-level name), in catalogue order."""
    parent = aliased(Category)
    rows = db.session.execute(
        select(Category.code, Category.name, parent.name)
        .join(parent, Category.parent_id == parent.id)
        .where(Category.active.is_(True))
        .order_by(Category.code)
    ).all()
    return [(code, name, group) for code, name, group in rows]


def window_ticket(reference: str, actor: User) -> Ticket:
    """A ticket taken at the window, for its receipt; 404 for others, 403 if not visible."""
    ticket = db.session.scalar(
        select(Ticket).where(Ticket.reference == reference, Ticket.channel == Channel.WINDOW)
    )
    if ticket is None:
        raise NotFound(f"no window ticket {reference}", f"没有窗口受理的工单 {reference}")
    require_view(actor, ticket)
    return ticket
