"""Tickets (工单) and everything that happens to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, WriteOnlyMapped, mapped_column, relationship

from hotline.models.base import Base, EncryptedText, UTCDateTime, utcnow
from hotline.models.enums import OPEN_STATUSES, TicketStatus
from hotline.models.org import CatalogueVersion, Category, Department, Hotline, Territory
from hotline.models.users import User


class Contact(Base):
    """A caller, found again by a keyed hash of the E.164 phone; identity encrypted."""

    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(EncryptedText)
    name: Mapped[str | None] = mapped_column(EncryptedText)
    caller_type: Mapped[str] = mapped_column(String(16), default="person")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # 退订: the caller texted STOP / 退订; no more outbound SMS.
    sms_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        Index("ix_ticket_status_due", "status", "due_at"),
        Index("ix_ticket_status_sign_due", "status", "sign_due_at"),
        Index("ix_ticket_department_status", "department_id", "status"),
        Index("ix_ticket_received", "received_at"),
        Index("ix_ticket_status_sign_warn", "status", "sign_warn_at"),
        Index("ix_ticket_status_due_warn", "status", "due_warn_at"),
        # The figures read periods of these (hotline.kpi).
        Index("ix_ticket_due", "due_at"),
        Index("ix_ticket_dispatched", "dispatched_at"),
        Index("ix_ticket_closed", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=TicketStatus.ACCEPTED, index=True)
    channel: Mapped[str] = mapped_column(String(16), index=True)
    type: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)

    # intake
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    line_dialled: Mapped[str | None] = mapped_column(String(32))
    hotline_id: Mapped[int | None] = mapped_column(ForeignKey("hotline.id"))
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    recording_url: Mapped[str | None] = mapped_column(String(500))

    # caller
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"), index=True)
    # The name given on this request: several people may call from one phone.
    caller_name: Mapped[str | None] = mapped_column(EncryptedText)
    # A number phonenumbers could not validate is kept as given and flagged, never dropped.
    caller_phone_raw: Mapped[str | None] = mapped_column(EncryptedText)
    phone_invalid: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the number is from (a 0750 landline is Jiangmen): a hint for territory routing.
    caller_area_code: Mapped[str | None] = mapped_column(String(8))
    caller_region: Mapped[str | None] = mapped_column(String(64))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    wants_reply: Mapped[bool] = mapped_column(Boolean, default=True)

    # the five elements: when, where, what (title/content), cause, course
    occurred_at_text: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(300))
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    cause: Mapped[str | None] = mapped_column(Text)
    course: Mapped[str | None] = mapped_column(Text)

    # routing
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    catalogue_version_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_version.id"))
    dispatch_round: Mapped[int] = mapped_column(Integer, default=0)
    designated: Mapped[bool] = mapped_column(Boolean, default=False)

    # clocks
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sign_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the yellow warning of each deadline starts (WARNING_YELLOW), kept beside the
    # deadline so the sweep reads a range of an index (hotline.tickets.warnings).
    sign_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extension_count: Mapped[int] = mapped_column(Integer, default=0)

    # result
    reply_result: Mapped[str | None] = mapped_column(String(16))
    reply_text: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    visit_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    visit_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the SMS survey now awaiting an answer was sent (None: none outstanding).
    visit_survey_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redo_count: Mapped[int] = mapped_column(Integer, default=0)
    is_repeat: Mapped[bool] = mapped_column(Boolean, default=False)
    urge_count: Mapped[int] = mapped_column(Integer, default=0)
    supervise_count: Mapped[int] = mapped_column(Integer, default=0)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    incident_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident_group.id"), index=True
    )
    territory_source: Mapped[str | None] = mapped_column(String(16))  # address|text|phone|geo
    disposition: Mapped[str | None] = mapped_column(String(20))
    reject_reason: Mapped[str | None] = mapped_column(String(32))
    emergency_line: Mapped[str | None] = mapped_column(String(8))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    contact: Mapped[Contact | None] = relationship()
    category: Mapped[Category | None] = relationship()
    department: Mapped[Department | None] = relationship()
    territory: Mapped[Territory | None] = relationship()
    hotline: Mapped[Hotline | None] = relationship()
    catalogue_version: Mapped[CatalogueVersion | None] = relationship()
    accepted_by: Mapped[User | None] = relationship()
    merged_into: Mapped[Ticket | None] = relationship(remote_side=[id])
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="ticket", order_by="Assignment.id"
    )
    returns: Mapped[list[ReturnRequest]] = relationship(order_by="ReturnRequest.id")
    extensions: Mapped[list[ExtensionRequest]] = relationship(order_by="ExtensionRequest.id")
    visits: Mapped[list[Visit]] = relationship(order_by="Visit.id")
    supervisions: Mapped[list[Supervision]] = relationship(order_by="Supervision.id")
    articles: Mapped[list[TicketArticle]] = relationship(order_by="TicketArticle.id")
    events: WriteOnlyMapped[Event] = relationship(order_by="Event.id")
    messages: WriteOnlyMapped[Message] = relationship(order_by="Message.id")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def current_assignments(self) -> list[Assignment]:
        return [
            a for a in self.assignments if a.round == self.dispatch_round and a.state == "active"
        ]

    def lead_assignment(self) -> Assignment | None:
        return next((a for a in self.current_assignments() if a.role == "lead"), None)


class Assignment(Base):
    """A unit's part in one dispatch round: lead (主办), assisting (协办) or copied (抄送)."""

    __tablename__ = "assignment"
    __table_args__ = (
        UniqueConstraint("ticket_id", "round", "department_id"),
        Index("ix_assignment_department_state", "department_id", "state"),
        Index("ix_assignment_dispatched", "dispatched_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    role: Mapped[str] = mapped_column(String(8))
    round: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12), default="active")
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    sign_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    send_back_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str | None] = mapped_column(Text)

    ticket: Mapped[Ticket] = relationship(back_populates="assignments")
    department: Mapped[Department] = relationship()


class ReturnRequest(Base):
    """A send-back (退单) and the hotline office's review of it."""

    __tablename__ = "return_request"
    __table_args__ = (Index("ix_return_request_requested", "requested_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    basis: Mapped[str] = mapped_column(Text)
    previous_status: Mapped[str] = mapped_column(String(20))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decision: Mapped[str] = mapped_column(String(12), default="pending")
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(Text)
    wrongful: Mapped[bool] = mapped_column(Boolean, default=False)

    department: Mapped[Department] = relationship()


class ExtensionRequest(Base):
    """A request for more time (延期) and its review; approval moves the due date."""

    __tablename__ = "extension_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decision: Mapped[str] = mapped_column(String(12), default="pending")
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(Text)
    old_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    new_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Visit(Base):
    """A follow-up visit attempt (回访); the latest reached one rates the ticket."""

    __tablename__ = "visit"
    __table_args__ = (Index("ix_visit_visited", "visited_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    method: Mapped[str] = mapped_column(String(16), default="phone")
    reached: Mapped[bool] = mapped_column(Boolean)
    solved: Mapped[str | None] = mapped_column(String(12))
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    timely_contact: Mapped[bool | None] = mapped_column(Boolean)
    redo: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    visited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Supervision(Base):
    """An urge (催办) or supervision (督办) of the unit handling a ticket."""

    __tablename__ = "supervision"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    note: Mapped[str] = mapped_column(Text)
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketArticle(Base):
    """Knowledge-base articles an agent used for a direct answer (直接答复)."""

    __tablename__ = "ticket_article"
    __table_args__ = (UniqueConstraint("ticket_id", "article_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    article_key: Mapped[str] = mapped_column(String(32), index=True)


class Message(Base):
    """The ticket's conversation with the citizen, on every channel."""

    __tablename__ = "message"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    direction: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))
    external_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    peer: Mapped[str | None] = mapped_column(EncryptedText)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    error: Mapped[str | None] = mapped_column(Text)
    # acceptance | dispatch | reply | extension | survey | chat | free …
    kind: Mapped[str] = mapped_column(String(16), default="free")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the last hand-over to Twilio began (status "sending" until it answered).
    attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Event(Base):
    """Append-only history of everything that happened (the source of KPIs and audit).

    `hash` covers the row's content and the previous event's hash, so editing or
    deleting any row breaks the chain that `hotline audit verify` checks.
    """

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_action_at", "action", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    actor_name: Mapped[str | None] = mapped_column(String(64))
    actor_role: Mapped[str | None] = mapped_column(String(16))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    department: Mapped[Department | None] = relationship()
