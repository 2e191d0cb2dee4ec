"""Voice intake (Twilio): the one number's Mandarin menu, legacy and emergency lines, the
agent queue, callbacks, and the call timings the KPIs read (接通率, 15秒接通率).

Every webhook that changes something is stored raw first (`store_inbound`) and then
applied by a registered processor in its own transaction; when that fails the row
stays unprocessed for `replay_unprocessed` and the caller is answered anyway. What a
caller hears is decided from the request itself wherever possible, so a database or
Redis failure can never drop a call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hotline import privacy
from hotline.audit import record_event
from hotline.errors import InvalidInput
from hotline.extensions import db
from hotline.intake import voice_text as say
from hotline.intake.raw import process, processor, store_inbound
from hotline.models import (
    CallbackRequest,
    CallRecord,
    Hotline,
    InboundRequest,
    utcnow,
)
from hotline.models.enums import HotlineStatus
from hotline.outbox import enqueue_on_commit, notify_on_commit
from hotline.phones import EMERGENCY_LINES, emergency_line, parse_phone, same_line

log = logging.getLogger(__name__)

# An invalid key repeats the menu this many times, then the caller goes to an agent.
MAX_MENU_REPEATS = 2
# The menu takes up to 3 keys so that a keyed 110/119/120/122 arrives whole; a single
# menu key is sent after MENU_TIMEOUT_S of quiet (Twilio's timeout between keys).
MENU_DIGITS = max(len(line) for line in EMERGENCY_LINES)
MENU_TIMEOUT_S = 3
# A ticket reference is 20 digits (adcode + date + sequence).
REFERENCE_DIGITS = 20


class Step(StrEnum):
    """What the caller hears next."""

    MENU = "menu"
    REPEAT = "repeat"  # the menu again, after an invalid key
    QUEUE = "queue"
    PROGRESS = "progress"  # asked for a ticket reference
    EMERGENCY = "emergency"


class CallStatus(StrEnum):
    """CallRecord.status: how far the call got. Outcomes are never overwritten by later,
    less specific news (a `completed` callback after an abandoned wait stays abandoned)."""

    RINGING = "ringing"
    MENU = "menu"
    QUEUED = "queued"
    ANSWERED = "answered"
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    CALLBACK = "callback"
    EMERGENCY = "emergency"


_RANK = {
    CallStatus.RINGING: 0,
    CallStatus.MENU: 1,
    CallStatus.QUEUED: 2,
    CallStatus.ANSWERED: 3,
    CallStatus.COMPLETED: 4,
    "busy": 4,
    "failed": 4,
    "no-answer": 4,
    "canceled": 4,
    CallStatus.ABANDONED: 5,
    CallStatus.CALLBACK: 5,
    CallStatus.EMERGENCY: 5,
}


@dataclass(frozen=True)
class CallPlan:
    step: Step
    menu_step: int = 1  # which showing of the menu (1 = first)
    line: str | None = None  # the emergency line
    transfer_to: str | None = None  # EMERGENCY_TRANSFER's number for `line`, if any
    hotline_name: str | None = None  # the legacy line the call came through
    hotline_status: str | None = None


class CallbackRequestedPayload(TypedDict):
    """`callback.requested` in the office room: a waiting caller asked to be called back."""

    id: int
    call_sid: str
    phone: str  # masked; the console loads the number when an agent takes the task
    hotline: str | None
    at: str


# -- storage ----------------------------------------------------------------------------


def call_sid_of(payload: Mapping[str, Any]) -> str:
    sid = str(payload.get("CallSid") or "")
    if not re.fullmatch(r"[A-Za-z0-9]{2,64}", sid):
        raise InvalidInput(
            "CallSid is missing or malformed", "缺少通话标识 CallSid", field="CallSid"
        )
    return sid


def receive_webhook(channel: str, payload: dict[str, Any], key: str) -> bool:
    """Store, then apply; False when the work did not complete (logged, left for replay)."""
    try:
        row, _ = store_inbound(channel, payload, dedupe_key=key)
        process(row)
    except Exception:
        db.session.rollback()
        log.exception("voice webhook %s not applied; the caller is answered anyway", key)
        return False
    return True


def _call_key(payload: Mapping[str, Any]) -> str:
    return f"voice:{call_sid_of(payload)}"


def _menu_key(payload: Mapping[str, Any]) -> str:
    # Keyed by content: a retry is the same request and gets the same (pure) decision.
    canonical = json.dumps(dict(payload), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:20]
    return f"voice-menu:{call_sid_of(payload)}:{digest}"


def _callback_key(payload: Mapping[str, Any]) -> str:
    return f"voice-callback:{call_sid_of(payload)}"


def arrived_at(key: str) -> datetime:
    """When the webhook reached us: a replay hours later must not move the call's times."""
    received = db.session.scalar(
        select(InboundRequest.received_at).where(InboundRequest.dedupe_key == key)
    )
    return received or utcnow()


def lock_call(payload: Mapping[str, Any], at: datetime) -> CallRecord:
    """The call's record, created on first sight, locked for this transaction (webhooks of
    one call may arrive together and out of order)."""
    sid = call_sid_of(payload)
    query = select(CallRecord).where(CallRecord.call_sid == sid).with_for_update()
    call = db.session.scalar(query)
    if call is not None:
        return call
    call = CallRecord(call_sid=sid, started_at=at, status=CallStatus.RINGING, data={})
    _set_caller(call, payload)
    try:
        with db.session.begin_nested():
            db.session.add(call)
    except IntegrityError:  # a concurrent webhook of the same call created it first
        call = db.session.scalars(query).one()
    return call


def _set_caller(call: CallRecord, payload: Mapping[str, Any]) -> None:
    """Caller id as the network gave it: E.164 and a lookup hash when valid, else kept as
    given and flagged ("anonymous", "+266696687" …), never a crash."""
    raw = str(payload.get("From") or payload.get("Caller") or "").strip()
    info = parse_phone(raw, current_app.config.get("DEFAULT_REGION", "CN"))
    call.caller = info.e164 or raw or None
    call.phone_hash = privacy.lookup_hash(info.e164) if info.e164 else None
    call.dialled = (payload.get("To") or None) and str(payload["To"])[:32]
    forwarded = payload.get("ForwardedFrom") or payload.get("CalledVia")
    call.forwarded_from = str(forwarded)[:32] if forwarded else None
    merge_data(
        call,
        caller_valid=info.valid,
        caller_kind=info.kind,
        caller_area_code=info.area_code,
        caller_region=info.region,
        caller_carrier=info.carrier,
    )


def merge_data(call: CallRecord, **values: Any) -> None:
    # A new dict, so SQLAlchemy sees the JSON column change.
    call.data = {**(call.data or {}), **values}


def advance_status(call: CallRecord, status: str) -> None:
    if _RANK.get(status, 0) >= _RANK.get(call.status, 0):
        before, call.status = call.status, status
        if CallStatus.QUEUED in (before, status) and before != status:
            # The agents' consoles show the voice queue: it changed.
            update = {"call_id": call.id, "status": status}
            notify_on_commit("call.queue", update, rooms=["office"])


def as_int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


# -- the call arrives -------------------------------------------------------------------


@dataclass(frozen=True)
class _Route:
    line: str | None = None  # emergency line
    via: str | None = None  # forwarded | called_via | dialled
    hotline: Hotline | None = None
    handed_in: str | None = None  # an emergency line passed a non-emergency call to us


def _route(payload: Mapping[str, Any]) -> _Route:
    """Where the call came through: an emergency line, a legacy hotline, or the one number.
    `ForwardedFrom` names the old number a merged line forwards from; `To` is an old
    number the system answers itself (双号并行)."""
    hotlines = db.session.scalars(select(Hotline).where(Hotline.active.is_(True))).all()
    for via, field in (
        ("forwarded", "ForwardedFrom"),
        ("called_via", "CalledVia"),
        ("dialled", "To"),
    ):
        number = str(payload.get(field) or "")
        if not number:
            continue
        hotline = next((h for h in hotlines if same_line(h.number, number)), None)
        line = emergency_line(number)
        if line is None and hotline is not None and hotline.status == HotlineStatus.EMERGENCY:
            line = re.sub(r"\D", "", hotline.number)[:8]
        if line and via != "dialled":
            # 110 and the other emergency lines pass non-emergency matters to 12345
            # (国办发〔2022〕12号): such a call is taken in, and where it came from is kept.
            return _Route(via=via, handed_in=line)
        if line:
            return _Route(line=line, via=via, hotline=hotline)
        if hotline is None:
            continue
        return _Route(via=via, hotline=hotline)
    return _Route()


def _emergency_plan(line: str) -> CallPlan:
    transfers = current_app.config.get("EMERGENCY_TRANSFER") or {}
    return CallPlan(Step.EMERGENCY, line=line, transfer_to=transfers.get(line) or None)


def _hand_off(call: CallRecord, line: str, via: str, at: datetime) -> None:
    """Never taken in (DOMAIN.md): the caller is told to dial, or transferred; recorded."""
    if call.emergency_line is not None:
        return  # a retry or replay: recorded once
    transfer = _emergency_plan(line).transfer_to
    call.emergency_line = line
    merge_data(call, emergency_via=via, emergency_at=at.isoformat(), transferred_to=transfer)
    advance_status(call, CallStatus.EMERGENCY)
    record_event(
        "call.emergency_handoff",
        actor=None,
        data={"call_sid": call.call_sid, "line": line, "via": via, "transferred_to": transfer},
    )


def answer_call(form: Mapping[str, str]) -> CallPlan:
    """`POST /twilio/voice`: store the call, then say what it gets (menu, queue, hand-off)."""
    payload = dict(form)
    sid = call_sid_of(payload)
    if receive_webhook("voice", payload, _call_key(payload)):
        try:
            call = db.session.scalar(select(CallRecord).where(CallRecord.call_sid == sid))
            if call is not None:
                return _plan_for(call)
        except Exception:
            db.session.rollback()
            log.exception("voice call %s: planned from the request alone", sid)
    return _fallback_plan(payload)


def _plan_for(call: CallRecord) -> CallPlan:
    if call.emergency_line:
        return _emergency_plan(call.emergency_line)
    if (call.data or {}).get("handed_in_from"):
        return CallPlan(Step.QUEUE)
    hotline = call.hotline
    if hotline is not None:
        return CallPlan(Step.QUEUE, hotline_name=hotline.name, hotline_status=hotline.status)
    return CallPlan(Step.MENU)


def _fallback_plan(payload: Mapping[str, Any]) -> CallPlan:
    """The database failed us: emergencies are still recognised, everyone else queues."""
    line = emergency_line(str(payload.get("To") or ""))
    return _emergency_plan(line) if line else CallPlan(Step.QUEUE)


@processor("voice")
def apply_call(payload: dict[str, Any]) -> None:
    """Record the call and where it came through (legacy line, emergency line)."""
    at = arrived_at(_call_key(payload))
    call = lock_call(payload, at)
    _set_caller(call, payload)
    call.started_at = at
    route = _route(payload)
    if route.handed_in:
        merge_data(call, handed_in_from=route.handed_in, line_via=route.via)
        call.menu_choice = "handed_in"
        queue_call(call, at)
        return
    if route.line:
        _hand_off(call, route.line, route.via or "dialled", at)
        return
    if route.hotline is not None:
        hotline = route.hotline
        call.hotline_id = hotline.id
        merge_data(
            call,
            line_via=route.via,
            category=hotline.default_category.code if hotline.default_category else None,
            department=hotline.department.code if hotline.department else None,
        )
        call.menu_choice = "line"
        queue_call(call, at)
        return
    advance_status(call, CallStatus.MENU)


# -- the menu ---------------------------------------------------------------------------


def decide_menu(digits: str | None, speech: str | None, menu_step: int) -> CallPlan:
    """What a menu answer leads to; pure, so a retry always gets the same answer."""
    choice = say.choice_from_input(digits, speech)
    if choice in EMERGENCY_LINES:
        return _emergency_plan(choice)
    if choice == say.PROGRESS:
        return CallPlan(Step.PROGRESS, menu_step=menu_step)
    if choice == say.INVALID and menu_step <= MAX_MENU_REPEATS:
        return CallPlan(Step.REPEAT, menu_step=menu_step + 1)
    return CallPlan(Step.QUEUE, menu_step=menu_step)


def _menu_step(payload: Mapping[str, Any]) -> int:
    return max(1, min(as_int(payload.get("step")) or 1, MAX_MENU_REPEATS + 1))


def choose_from_menu(form: Mapping[str, str], menu_step: int) -> CallPlan:
    """`POST /twilio/voice/menu`: a key pressed, words said, or silence."""
    payload = {**form, "step": str(menu_step)}
    receive_webhook("voice_menu", payload, _menu_key(payload))
    return decide_menu(payload.get("Digits"), payload.get("SpeechResult"), _menu_step(payload))


@processor("voice_menu")
def apply_menu_choice(payload: dict[str, Any]) -> None:
    at = arrived_at(_menu_key(payload))
    call = lock_call(payload, at)
    digits, speech = payload.get("Digits"), payload.get("SpeechResult")
    plan = decide_menu(digits, speech, _menu_step(payload))
    choice = say.choice_from_input(digits, speech)
    if plan.step == Step.EMERGENCY and plan.line:
        call.menu_choice = plan.line
        _hand_off(call, plan.line, "keyed" if digits else "speech", at)
    elif plan.step == Step.QUEUE:
        call.menu_choice = choice or "none"
        queue_call(call, at)
    elif plan.step == Step.PROGRESS:
        call.menu_choice = say.PROGRESS
    else:
        merge_data(call, menu_repeats=plan.menu_step - 1)


def queue_call(call: CallRecord, at: datetime) -> None:
    call.queued_at = call.queued_at or at
    advance_status(call, CallStatus.QUEUED)


# -- waiting in the queue, callbacks ----------------------------------------------------


def wait_announcement(form: Mapping[str, str]) -> str:
    """`POST /twilio/voice/wait`: position and expected wait, read to a queued caller."""
    position = as_int(form.get("QueuePosition"))
    minutes = say.wait_minutes(
        position,
        as_int(form.get("AvgQueueTime")),
        int(current_app.config.get("AVERAGE_HANDLE_SECONDS", 180)),
    )
    return say.queue_position(position, minutes)


def request_callback(form: Mapping[str, str]) -> str:
    """`POST /twilio/voice/callback`: "booked", "no_number" (nothing to call back), or
    "declined" (another key: keep waiting)."""
    if (form.get("Digits") or "").strip() != "1":
        return "declined"
    payload = dict(form)
    caller = parse_phone(payload.get("From") or "", current_app.config.get("DEFAULT_REGION", "CN"))
    if not caller.valid:
        return "no_number"
    # Stored before the answer: if applying fails, the replay books it.
    receive_webhook("voice_callback", payload, _callback_key(payload))
    return "booked"


@processor("voice_callback")
def apply_callback(payload: dict[str, Any]) -> None:
    """One callback task per call (idempotent on the CallSid), pushed to the office."""
    sid = call_sid_of(payload)
    at = arrived_at(_callback_key(payload))
    call = lock_call(payload, at)
    if db.session.scalar(select(CallbackRequest.id).where(CallbackRequest.call_sid == sid)):
        return
    phone = parse_phone(payload.get("From") or "", current_app.config.get("DEFAULT_REGION", "CN"))
    if phone.e164 is None:
        return
    task = CallbackRequest(
        call_sid=sid,
        phone_hash=privacy.lookup_hash(phone.e164),
        phone=phone.e164,
        requested_at=at,
        status="pending",
    )
    db.session.add(task)
    db.session.flush()
    advance_status(call, CallStatus.CALLBACK)
    merge_data(call, callback_request_id=task.id)
    event: CallbackRequestedPayload = {
        "id": task.id,
        "call_sid": sid,
        "phone": privacy.mask_phone(phone.e164) or "",
        "hotline": call.hotline.number if call.hotline else None,
        "at": at.isoformat(),
    }
    notify_on_commit("callback.requested", dict(event), rooms=["office"])
    enqueue_on_commit("assign_waiting")
