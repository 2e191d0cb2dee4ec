"""The screen pop (`/console/calls/<call sid>`): opened by the console the moment a call
is put through to the agent (the `call.answered` push), or from "Assigned to me".

It shows who is calling and through which line (a legacy line presets its category),
the caller's past and open tickets, and the ticket form; while the agent types, the
knowledge base's answers, routing's three best units with reasons and the deadline
preview follow (`GET /console/suggest`). One keystroke makes the ticket and decides it:
answer directly, dispatch, reject, hand to an emergency line, or leave it for the desk.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from hotline import privacy, screen_pop
from hotline.errors import HotlineError, InvalidInput
from hotline.extensions import db
from hotline.intake.voice_agents import call_context
from hotline.models import CallRecord
from hotline.models.enums import TicketType, Urgency
from hotline.tickets.access import FULL_IDENTITY
from web.api.schemas import TicketCreate
from web.desk import bp
from web.desk.console import _console_user
from web.desk.forms import message_for, validated
from web.desk.office import decision_arguments, decision_context

# The ticket form's fields (the call gives the channel, phone, line and time).
TICKET_FIELDS = ("type", "urgency", "content", "title", "address", "name", "category")
TICKET_FLAGS = ("confidential", "anonymous")


def _call(call_sid: str) -> CallRecord:
    call = db.session.scalar(db.select(CallRecord).where(CallRecord.call_sid == call_sid))
    if call is None:
        abort(404)
    return call


def _ticket_fields() -> dict[str, Any]:
    """The form's ticket fields checked with the API's own schema (TicketCreate)."""
    body: dict[str, Any] = {
        name: value for name in TICKET_FIELDS if (value := request.form.get(name, "").strip())
    }
    body.update({flag: True for flag in TICKET_FLAGS if request.form.get(flag)})
    checked = validated(TicketCreate, {**body, "channel": "phone"})
    fields = checked.model_dump(exclude_unset=True)
    fields.pop("channel")
    return fields


def _page(call: CallRecord, *, error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    db.session.rollback()  # a refused ticket leaves nothing half-written behind
    context = call_context(call.call_sid)
    if current_user.role not in FULL_IDENTITY:  # supervisors see masked numbers
        context["caller"]["phone"] = privacy.mask_phone(context["caller"]["phone"])
    form = request.form if request.method == "POST" else {}
    content = form.get("content", "")
    found = (
        screen_pop.suggestions(
            content,
            address=form.get("address"),
            phone=call.caller,
            kind=form.get("type"),
            urgency=form.get("urgency"),
        )
        if content.strip()
        else {"kb": [], "routing": [], "deadline": None}
    )
    page = render_template(
        "desk/call.html",
        call=context,
        history=screen_pop.caller_history(call),
        form=form,
        nonce=form.get("nonce") or secrets.token_hex(16),
        hits=found["kb"],
        routing=found["routing"],
        deadline=found["deadline"],
        types=list(TicketType),
        urgencies=list(Urgency),
        error=error,
        **decision_context(),
    )
    return page, status


@bp.get("/console/calls/<call_sid>")
@login_required
def call_page(call_sid: str):  # type: ignore[no-untyped-def]
    _console_user()
    return _page(_call(call_sid))


@bp.post("/console/calls/<call_sid>")
@login_required
def take_call(call_sid: str):  # type: ignore[no-untyped-def]
    """The ticket made from the call and, with `then`, decided at once."""
    user = _console_user()
    call = _call(call_sid)
    outcome = request.form.get("then", "").strip() or None
    nonce = request.form.get("nonce", "").strip()
    try:
        if not 16 <= len(nonce) <= 48 or not nonce.isalnum():
            raise InvalidInput(
                "the form is stale: open the call again", "表单已失效，请重新打开来电"
            )
        fields = _ticket_fields()
        arguments = decision_arguments(outcome) if outcome in screen_pop.OUTCOMES else None
        ticket, created = screen_pop.take_call(
            call_sid, user, fields, nonce=nonce, outcome=outcome, arguments=arguments
        )
    except HotlineError as exc:
        return _page(call, error=message_for(exc), status=exc.status)
    if created:
        flash(_("%(reference)s accepted.", reference=ticket.reference), "ok")
    if outcome:
        return redirect(url_for("desk.console_page"), 303)
    return redirect(url_for("main.ticket", reference=ticket.reference, **{"from": "console"}), 303)


def _time_arg(raw: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@bp.get("/console/suggest")
@login_required
def console_suggest():  # type: ignore[no-untyped-def]
    """JSON for the screen pop while the agent types: {kb, routing, deadline}."""
    _console_user()
    args = request.args
    received = _time_arg(args.get("received_at"))
    call = (
        db.session.scalar(db.select(CallRecord).where(CallRecord.call_sid == args["call"][:64]))
        if args.get("call")
        else None
    )
    found = screen_pop.suggestions(
        args.get("text", "")[:10000],
        address=args.get("address", "")[:300] or None,
        phone=call.caller if call is not None else None,
        kind=args.get("type"),
        urgency=args.get("urgency"),
        received_at=received if received is not None and received.tzinfo else None,
    )
    deadline = found["deadline"]
    if deadline:
        from web import localtime

        found["deadline"] = {
            "sign_due_at": localtime(deadline["sign_due_at"]),
            "due_at": localtime(deadline["due_at"]),
            "provisional": deadline["provisional"],
        }
    return jsonify(found)
