"""What Twilio reports about a call — its end and length, why it left the queue, which
agent took it, its recording — turned into the times the KPIs read (接通率, 15秒接通率,
average speed of answer, abandonment)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from sqlalchemy import select

from hotline.extensions import db
from hotline.intake.raw import processor
from hotline.intake.voice import (
    CallStatus,
    advance_status,
    arrived_at,
    as_int,
    call_sid_of,
    lock_call,
    merge_data,
    receive_webhook,
)
from hotline.intake.voice_agents import agent_from
from hotline.models import CallRecord, Ticket
from hotline.outbox import notify_on_commit

log = logging.getLogger(__name__)

_ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
# A recording arrives after its call; look that far back for the call it belongs to.
RECORDING_MATCH_WINDOW = timedelta(days=2)


def _status_key(payload: Mapping[str, Any]) -> str:
    return f"voice-status:{call_sid_of(payload)}:{payload.get('CallStatus', '')}"[:96]


def _queue_key(payload: Mapping[str, Any]) -> str:
    # A caller re-queued after an error leaves the queue a second time: its own report.
    attempt = "retry:" if payload.get("retry") == "1" else ""
    return f"voice-queue:{call_sid_of(payload)}:{attempt}{payload.get('QueueResult', '')}"[:96]


def _dequeue_key(payload: Mapping[str, Any]) -> str:
    return f"voice-dequeue:{call_sid_of(payload)}:{payload.get('DequeingCallSid', '')}"[:96]


def _recording_key(payload: Mapping[str, Any]) -> str:
    return f"voice-recording:{payload.get('RecordingSid') or call_sid_of(payload)}"[:96]


def _timestamp(value: Any) -> datetime | None:
    """Twilio's RFC 2822 `Timestamp`."""
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else None


def record_status(form: Mapping[str, str]) -> None:
    """`POST /twilio/voice/status` (statusCallback): the call's end, length and recording."""
    payload = dict(form)
    receive_webhook("voice_status", payload, _status_key(payload))


@processor("voice_status")
def apply_status(payload: dict[str, Any]) -> None:
    status = str(payload.get("CallStatus") or "")
    at = arrived_at(_status_key(payload))
    call = lock_call(payload, at)
    if status not in _ENDED:
        return  # ringing / in-progress: the menu and queue webhooks say more
    ended = _timestamp(payload.get("Timestamp")) or at
    call.ended_at = call.ended_at or ended
    duration = as_int(payload.get("CallDuration"))
    if duration is not None:
        call.duration_s = duration
    if payload.get("RecordingUrl"):
        _set_recording(call, str(payload["RecordingUrl"]))
    if call.queued_at and not call.answered_at and call.status == CallStatus.QUEUED:
        # Hung up while waiting and Twilio's queue report never came: still abandoned.
        call.abandoned = True
        if call.queue_wait_s is None:
            call.queue_wait_s = max(0, int((call.ended_at - call.queued_at).total_seconds()))
        advance_status(call, CallStatus.ABANDONED)
    advance_status(call, CallStatus.COMPLETED if status == "completed" else status)


def record_queue_result(form: Mapping[str, str], retried: bool) -> str:
    """`POST /twilio/voice/queue-result` (the Enqueue action): why the caller left the
    queue. Returns what to do next: "end", "thanks", "hangup", "requeue" or "busy"."""
    payload = {**form, "retry": "1" if retried else ""}
    result = str(payload.get("QueueResult") or "")
    receive_webhook("voice_queue", payload, _queue_key(payload))
    if result in ("hangup", "redirected"):
        return "end"
    if result == "bridged":
        return "thanks"  # the agent hung up first; the caller is still there
    if result == "leave":
        return "hangup"  # left for a callback, already confirmed
    if result in ("error", "system-error") and not retried:
        return "requeue"
    return "busy"  # queue-full, or a second failure: offer a callback, never just drop


@processor("voice_queue")
def apply_queue_result(payload: dict[str, Any]) -> None:
    result = str(payload.get("QueueResult") or "")
    at = arrived_at(_queue_key(payload))
    call = lock_call(payload, at)
    waited = as_int(payload.get("QueueTime"))
    if waited is not None:
        call.queue_wait_s = waited
    if result == "hangup":
        call.abandoned = True
        if call.queued_at is None and waited is not None:
            call.queued_at = at - timedelta(seconds=waited)
        advance_status(call, CallStatus.ABANDONED)
    elif result == "bridged":
        call.abandoned = False  # even if a status callback guessed otherwise first
        if call.answered_at is None and call.queued_at is not None and waited is not None:
            call.answered_at = call.queued_at + timedelta(seconds=waited)
        if call.status == CallStatus.ABANDONED:
            call.status = CallStatus.COMPLETED if call.ended_at else CallStatus.ANSWERED
        advance_status(call, CallStatus.ANSWERED)
    elif result in ("error", "system-error", "queue-full"):
        merge_data(call, queue_error=result)


def record_dequeue(form: Mapping[str, str], agent: str | None) -> None:
    """`POST /twilio/voice/dequeued` (the agent's <Queue url>): who answered, and when."""
    payload = {**form, "agent": agent or ""}
    receive_webhook("voice_dequeue", payload, _dequeue_key(payload))


@processor("voice_dequeue")
def apply_dequeue(payload: dict[str, Any]) -> None:
    at = arrived_at(_dequeue_key(payload))
    call = lock_call(payload, at)
    waited = as_int(payload.get("QueueTime"))
    # `agent` comes from the <Queue url> the agent's own call asked for (signed by Twilio).
    agent = str(payload.get("agent") or "")
    user = agent_from(f"agent-{agent}" if agent.isdigit() else payload.get("From"))
    if user is not None and call.agent_id != user.id:
        call.agent_id = user.id
        # The agent's console opens the screen pop (web/desk/calls.py).
        notify_on_commit("call.answered", {"call_sid": call.call_sid}, rooms=[f"user:{user.id}"])
    if call.answered_at is None:
        call.answered_at = at
    if waited is not None:
        call.queue_wait_s = waited
        if call.queued_at is None:
            call.queued_at = call.answered_at - timedelta(seconds=waited)
    call.abandoned = False
    if payload.get("DequeingCallSid"):
        merge_data(call, agent_call_sid=str(payload["DequeingCallSid"]))
    advance_status(call, CallStatus.ANSWERED)


# -- recordings -------------------------------------------------------------------------


def record_recording(form: Mapping[str, str]) -> None:
    """`POST /twilio/voice/recording`: the agent leg's recording is ready."""
    payload = dict(form)
    receive_webhook("voice_recording", payload, _recording_key(payload))


@processor("voice_recording")
def apply_recording(payload: dict[str, Any]) -> None:
    """Attach the link to the caller's record: the recording belongs to the agent's call,
    which the dequeue callback noted (`agent_call_sid`)."""
    if payload.get("RecordingStatus", "completed") != "completed":
        return
    agent_sid = str(payload.get("CallSid") or "")
    at = arrived_at(_recording_key(payload))
    call = db.session.scalar(
        select(CallRecord)
        .where(
            CallRecord.started_at >= at - RECORDING_MATCH_WINDOW,
            CallRecord.data["agent_call_sid"].as_string() == agent_sid,
        )
        .order_by(CallRecord.id.desc())
        .limit(1)
    )
    if call is None:
        # Kept in the raw row; nothing to attach it to (an agent call that bridged nobody).
        log.warning("recording %s: no call answered by %s", payload.get("RecordingSid"), agent_sid)
        return
    if payload.get("RecordingUrl"):
        _set_recording(call, str(payload["RecordingUrl"]))
    merge_data(call, recording_sid=payload.get("RecordingSid"))


def _set_recording(call: CallRecord, url: str) -> None:
    """The call's recording, also on the tickets opened during the call (录音随单)."""
    call.recording_url = url[:500]
    ticket_ids = set((call.data or {}).get("tickets") or []) | (
        {call.ticket_id} if call.ticket_id else set()
    )
    for ticket_id in ticket_ids:
        ticket = db.session.get(Ticket, ticket_id)
        if ticket is not None and not ticket.recording_url:
            ticket.recording_url = call.recording_url
