"""Accepting a request (受理): one transaction writes the ticket, its caller and its first event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hotline import messaging, privacy
from hotline.errors import InvalidInput, NotFound
from hotline.extensions import db
from hotline.models import Category, Contact, Ticket, TicketStatus, User, utcnow
from hotline.phones import PhoneInfo, parse_phone
from hotline.tickets.common import record
from hotline.tickets.references import next_reference


@dataclass
class NewTicket:
    """What intake knows about a request; channels fill what they have."""

    channel: str
    type: str
    urgency: str
    content: str
    title: str | None = None
    address: str | None = None
    phone: str | None = None
    name: str | None = None
    category: str | None = None
    confidential: bool = False
    anonymous: bool = False
    wants_reply: bool = True
    caller_type: str = "person"
    tags: list[str] = field(default_factory=list)
    occurred_at_text: str | None = None
    cause: str | None = None
    course: str | None = None
    lat: float | None = None
    lng: float | None = None
    line_dialled: str | None = None
    external_id: str | None = None
    received_at: datetime | None = None
    # Caller ids from the phone network are kept even when invalid (flagged, never a
    # crash); numbers typed into forms must be valid (a 422 says why).
    keep_invalid_phone: bool = False
    hotline_id: int | None = None


def normalise_phone(raw: str, region: str = "CN") -> str:
    """E.164 form of a caller's number, or a 422 saying why it is not one."""
    info = parse_phone(raw, region)
    if info.e164 is None:
        raise InvalidInput(
            f"phone {raw!r} is not a valid phone number",
            f"电话号码 {raw!r} 无效，请填写手机号码或带区号的固定电话",
            field="phone",
        )
    return info.e164


def find_contact(phone_e164: str) -> Contact | None:
    return db.session.scalar(
        select(Contact).where(Contact.phone_hash == privacy.lookup_hash(phone_e164))
    )


def _contact_for(new: NewTicket, info: PhoneInfo | None) -> Contact | None:
    if new.anonymous or info is None or info.e164 is None:
        return None
    phone = info.e164
    contact = find_contact(phone)
    if contact is None:
        contact = Contact(
            phone_hash=privacy.lookup_hash(phone), phone=phone, caller_type=new.caller_type
        )
        db.session.add(contact)
    if new.name:
        contact.name = new.name
    return contact


def _title_from(content: str) -> str:
    first_line = content.strip().splitlines()[0] if content.strip() else ""
    return first_line[:30] + ("…" if len(first_line) > 30 else "")


def existing_for(external_id: str) -> Ticket | None:
    return db.session.scalar(select(Ticket).where(Ticket.external_id == external_id))


def open_ticket(
    new: NewTicket,
    actor: User | None,
    *,
    before_commit: Callable[[Ticket], None] | None = None,
) -> tuple[Ticket, bool]:
    """Accept a request; returns (ticket, created). A repeated external id returns the first.

    `before_commit(ticket)` adds rows that must commit (or roll back) with the ticket,
    such as its attachments.
    """
    if new.external_id:
        earlier = existing_for(new.external_id)
        if earlier is not None:
            return earlier, False
    if not new.content.strip():
        raise InvalidInput("content is empty", "诉求内容不能为空", field="content")
    category = None
    if new.category:
        category = db.session.scalar(select(Category).where(Category.code == new.category))
        if category is None or category.parent_id is None:
            raise NotFound(
                f"no second-level category {new.category!r}",
                f"没有二级诉求分类 {new.category!r}",
                field="category",
            )
    config = current_app.config
    info = None
    if new.phone and not new.anonymous:
        info = parse_phone(new.phone, config["DEFAULT_REGION"])
        if info.e164 is None and not new.keep_invalid_phone:
            normalise_phone(new.phone, config["DEFAULT_REGION"])  # raises the 422
    received_at = new.received_at or utcnow()
    ticket = Ticket(
        reference=next_reference(config["CITY_ADCODE"], received_at, config["TIMEZONE"]),
        status=TicketStatus.ACCEPTED,
        channel=new.channel,
        type=new.type,
        urgency=new.urgency,
        title=(new.title or _title_from(new.content))[:200],
        content=new.content,
        tags=list(new.tags),
        received_at=received_at,
        accepted_by=actor,
        line_dialled=new.line_dialled,
        external_id=new.external_id,
        contact=_contact_for(new, info),
        caller_name=None if new.anonymous else new.name,
        caller_phone_raw=info.raw if info is not None and info.e164 is None else None,
        phone_invalid=info is not None and info.e164 is None,
        caller_area_code=info.area_code if info is not None else None,
        caller_region=info.region if info is not None else None,
        hotline_id=new.hotline_id,
        confidential=new.confidential,
        anonymous=new.anonymous,
        wants_reply=new.wants_reply and not new.anonymous,
        occurred_at_text=new.occurred_at_text,
        address=new.address,
        lat=new.lat,
        lng=new.lng,
        cause=new.cause,
        course=new.course,
        category=category,
    )
    db.session.add(ticket)
    db.session.flush()
    record(
        ticket,
        "accept",
        actor,
        created=True,
        channel=new.channel,
        type=new.type,
        urgency=new.urgency,
    )
    messaging.notify_acceptance(ticket)  # the reference by SMS, where the channel calls for it
    if before_commit is not None:
        before_commit(ticket)
    try:
        db.session.commit()
    except IntegrityError:
        # A concurrent retry with the same external id won the race: answer with its ticket.
        db.session.rollback()
        earlier = existing_for(new.external_id) if new.external_id else None
        if earlier is None:
            raise
        return earlier, False
    return ticket, True
