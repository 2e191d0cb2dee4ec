"""The agent's side of a call: who may answer, browser access tokens (Twilio Voice SDK),
the screen pop when a call is answered, and the ticket defaults it carries."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

from hotline.errors import HotlineError, NotFound, PermissionDenied
from hotline.extensions import db
from hotline.models import (
    OPEN_STATUSES,
    CallRecord,
    Category,
    Contact,
    Department,
    Role,
    Ticket,
    User,
)
from hotline.models.enums import Channel
from hotline.tickets.intake import NewTicket

TOKEN_SETTINGS = (
    "TWILIO_ACCOUNT_SID",
    "TWILIO_API_KEY",
    "TWILIO_API_SECRET",
    "TWILIO_TWIML_APP_SID",
)
TOKEN_TTL_S = 3600


# Who may answer calls in the browser (the Voice SDK client identity is agent-<user id>).
AGENT_ROLES = frozenset({Role.AGENT, Role.DISPATCHER, Role.ADMIN})
_CLIENT_IDENTITY = re.compile(r"(?:client:)?agent-(\d{1,12})")


def client_identity(user: User) -> str:
    return f"agent-{user.id}"


def agent_from(identity: str | None) -> User | None:
    """The active agent behind a Voice SDK identity ("client:agent-<id>"); None for anyone
    else (a phone number, a user without an answering role)."""
    found = _CLIENT_IDENTITY.fullmatch(str(identity or "").strip())
    if found is None:
        return None
    user = db.session.get(User, int(found.group(1)))
    if user is None or not user.active or not user.has_role(*AGENT_ROLES):
        return None
    return user


class TelephonyNotConfigured(HotlineError):
    """No Twilio credentials for browser calls: the console works, without a phone (503)."""

    status = 503
    code = "telephony_not_configured"


def voice_token(user: User) -> dict[str, Any]:
    """A Twilio Voice SDK access token for `user`: place calls through the TwiML App and
    receive calls addressed to client:agent-<id>."""
    if not user.has_role(*AGENT_ROLES):
        raise PermissionDenied(
            f"role {user.role!r} does not answer calls", "当前角色无权接听热线来电"
        )
    config = current_app.config
    missing = [key for key in TOKEN_SETTINGS if not config.get(key)]
    if missing:
        raise TelephonyNotConfigured(
            "Twilio voice is not configured (" + ", ".join(missing) + ")",
            "未配置网络电话（Twilio），暂不能在浏览器中接听来电，请联系管理员",
            missing=missing,
        )
    identity = client_identity(user)
    token = AccessToken(
        config["TWILIO_ACCOUNT_SID"],
        config["TWILIO_API_KEY"],
        config["TWILIO_API_SECRET"],
        identity=identity,
        ttl=TOKEN_TTL_S,
    )
    token.add_grant(
        VoiceGrant(outgoing_application_sid=config["TWILIO_TWIML_APP_SID"], incoming_allow=True)
    )
    return {"token": token.to_jwt(), "identity": identity, "expires_in": TOKEN_TTL_S}


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).isoformat()


def _find_call(call_sid: str) -> CallRecord:
    call = db.session.scalar(select(CallRecord).where(CallRecord.call_sid == call_sid))
    if call is None:
        raise NotFound(f"no call {call_sid}", f"找不到来电 {call_sid}", call_sid=call_sid)
    return call


def call_context(call_sid: str) -> dict[str, Any]:
    """The screen pop: who is calling, through which line, the preset category and unit,
    and how often this phone has called before (tickets filed from it)."""
    call = _find_call(call_sid)
    data = call.data or {}
    hotline = call.hotline
    category = (
        db.session.scalar(select(Category).where(Category.code == data["category"]))
        if data.get("category")
        else None
    )
    department = (
        db.session.scalar(select(Department).where(Department.code == data["department"]))
        if data.get("department")
        else None
    )
    past = open_now = 0
    if call.phone_hash:
        by_phone = (
            select(func.count(Ticket.id))
            .join(Contact, Ticket.contact_id == Contact.id)
            .where(Contact.phone_hash == call.phone_hash)
        )
        past = db.session.scalar(by_phone) or 0
        open_now = db.session.scalar(by_phone.where(Ticket.status.in_(OPEN_STATUSES))) or 0
    return {
        "call_sid": call.call_sid,
        "status": call.status,
        "caller": {
            "phone": call.caller,
            "valid": bool(data.get("caller_valid")),
            "kind": data.get("caller_kind"),
            "area_code": data.get("caller_area_code"),
            "region": data.get("caller_region"),
            "carrier": data.get("caller_carrier"),
        },
        "dialled": call.dialled,
        "forwarded_from": call.forwarded_from,
        "hotline": (
            {"number": hotline.number, "name": hotline.name, "status": hotline.status}
            if hotline is not None
            else None
        ),
        "category": {"code": category.code, "name": category.name} if category else None,
        "department": (
            {"code": department.code, "name": department.short_name} if department else None
        ),
        "menu_choice": call.menu_choice,
        "type_hint": "consult" if call.menu_choice == "1" else None,
        "emergency_line": call.emergency_line,
        "past_tickets": past,
        "open_tickets": open_now,
        "started_at": _iso(call.started_at),
        "queued_at": _iso(call.queued_at),
        "answered_at": _iso(call.answered_at),
    }


def new_ticket_for_call(call_sid: str, **fields: Any) -> NewTicket:
    """A NewTicket filled from the call (phone channel, caller id kept even when invalid,
    the line dialled, the legacy line's category); `fields` (type, urgency, content …)
    are the agent's and win."""
    call = _find_call(call_sid)
    data = call.data or {}
    defaults: dict[str, Any] = {
        "channel": Channel.PHONE,
        "phone": call.caller,
        "keep_invalid_phone": True,
        "line_dialled": call.forwarded_from or call.dialled,
        "hotline_id": call.hotline_id,
        "category": data.get("category"),
        "received_at": call.started_at,
    }
    return NewTicket(**{**defaults, **fields})


def link_call_to_ticket(call_sid: str, ticket: Ticket) -> None:
    """Note the ticket an agent opened during this call; the ticket gets the call's
    recording now, or when it arrives (a call may give several tickets: the first is
    the call's)."""
    call = _find_call(call_sid)
    call.ticket_id = call.ticket_id or ticket.id
    if call.recording_url and not ticket.recording_url:
        ticket.recording_url = call.recording_url
    recorded = list((call.data or {}).get("tickets") or [])
    if ticket.id not in recorded:
        call.data = {**(call.data or {}), "tickets": [*recorded, ticket.id]}
    db.session.commit()
