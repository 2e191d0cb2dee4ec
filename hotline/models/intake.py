"""Intake records: every raw inbound request, calls and their timings, callback
requests, attachments and chat sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.models.base import Base, EncryptedText, UTCDateTime, utcnow
from hotline.models.org import Hotline
from hotline.models.users import User


class InboundRequest(Base):
    """The raw payload of anything that arrived (webhook, form, chat line), stored in its
    own transaction before any other work, so nothing is lost if later steps fail.

    `dedupe_key` (e.g. "sms:<MessageSid>") makes a provider's retry find the first row.
    The payload holds personal data, so it is encrypted like the rest.
    """

    __tablename__ = "inbound_request"
    __table_args__ = (Index("ix_inbound_request_unprocessed", "processed_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(24), index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(96), unique=True)
    payload: Mapped[str] = mapped_column(EncryptedText)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class CallRecord(Base):
    """One inbound call: what the caller chose and every time the KPIs need
    (接通率, 15-second answer rate, average speed of answer, abandonment)."""

    __tablename__ = "call_record"
    __table_args__ = (Index("ix_call_record_started", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    caller: Mapped[str | None] = mapped_column(EncryptedText)
    dialled: Mapped[str | None] = mapped_column(String(32))
    forwarded_from: Mapped[str | None] = mapped_column(String(32))
    hotline_id: Mapped[int | None] = mapped_column(ForeignKey("hotline.id"))
    menu_choice: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="ringing")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    queue_wait_s: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[int | None] = mapped_column(Integer)
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False)
    recording_url: Mapped[str | None] = mapped_column(String(500))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    emergency_line: Mapped[str | None] = mapped_column(String(8))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    hotline: Mapped[Hotline | None] = relationship()
    agent: Mapped[User | None] = relationship()


class CallbackRequest(Base):
    """A waiting caller asked to be called back: a task for the agents (回拨)."""

    __tablename__ = "callback_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone: Mapped[str] = mapped_column(EncryptedText)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))


class Attachment(Base):
    """A file a citizen or clerk attached; stored outside the static folder."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class ChatSession(Base):
    """A citizen's web chat, bound to its ticket (channel chat); the browser holds the
    token, only its hash is stored."""

    __tablename__ = "chat_session"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
