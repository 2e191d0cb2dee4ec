"""The hotline office's decisions on a request still with it (受理), offered on the ticket
page and on the screen pop, each one keystroke away (the access keys shown on the
buttons): answer directly from an article (直接答复), dispatch to one of routing's
three best units (派单), reject with a reason (不予受理), hand to 110/119/120/122
(转紧急热线), or merge into the duplicate it repeats (并单)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from hotline.errors import HotlineError
from hotline.extensions import db
from hotline.models import Department, Role
from hotline.models.enums import EmergencyLine, RejectReason, TicketStatus
from hotline.tickets.service import perform
from web.desk import bp
from web.desk.forms import checked, form_body, message_for

OFFICE_ROLES = frozenset({Role.AGENT, Role.DISPATCHER, Role.ADMIN})
# The office's decisions, the form fields each reads, and its access key.
OFFICE_ACTIONS: dict[str, tuple[str, ...]] = {
    "answer_directly": ("articles", "text"),
    "dispatch": ("department", "category", "note"),
    "reject": ("reason", "note"),
    "hand_to_emergency": ("line", "note"),
    "merge": ("into",),
}
ACCESS_KEYS = {
    "answer_directly": "a",
    "dispatch": "d",
    "reject": "r",
    "hand_to_emergency": "e",
    "merge": "m",
}
REJECT_REASONS = {
    RejectReason.LITIGATION: _l("In litigation"),
    RejectReason.ARBITRATION: _l("In arbitration"),
    RejectReason.PETITION: _l("A petition (信访) matter"),
    RejectReason.OUT_OF_JURISDICTION: _l("Outside the city's remit"),
    RejectReason.MALICIOUS: _l("Malicious or harassing"),
    RejectReason.INVALID: _l("No request in it"),
    RejectReason.OTHER: _l("Another reason"),
}
EMERGENCY_LINES = {
    EmergencyLine.POLICE: _l("110 Police"),
    EmergencyLine.FIRE: _l("119 Fire"),
    EmergencyLine.AMBULANCE: _l("120 Ambulance"),
    EmergencyLine.TRAFFIC: _l("122 Traffic police"),
}


def may_decide(ticket: Any, user: Any) -> bool:
    return user.role in OFFICE_ROLES and ticket.status == TicketStatus.ACCEPTED


def decision_arguments(action: str) -> dict[str, Any]:
    """The decision's arguments from the submitted form, checked with the API's schema.

    A dispatch names its unit with `department`, or with `route` ("unit|category", one of
    routing's suggestions, which also reclassifies the ticket); a direct answer names
    its article with `article`."""
    body: dict[str, Any] = form_body(OFFICE_ACTIONS[action])
    if action == "dispatch" and "department" not in body:
        unit, _sep, category = request.form.get("route", "").strip().partition("|")
        if unit:
            body["department"] = unit
            if category:
                body["category"] = category
    if action == "answer_directly":
        body.pop("articles", None)
        article = request.form.get("article", "").strip()
        body["articles"] = [article] if article else []
        body["text"] = request.form.get("answer", "").strip() or body.get("text", "")
    return checked(action, body)


def decision_context(ticket: Any | None = None) -> dict[str, Any]:
    """What the decision forms list: the units, reasons, lines, keys and, for a ticket,
    the duplicates it may repeat."""
    context: dict[str, Any] = {
        "units": db.session.execute(
            select(Department.code, Department.name)
            .where(Department.active.is_(True))
            .order_by(Department.code)
        ).all(),
        "reject_reasons": REJECT_REASONS,
        "emergency_lines": EMERGENCY_LINES,
        "keys": ACCESS_KEYS,
        "duplicates": [],
    }
    if ticket is not None:
        from routing.duplicates import find_duplicates

        context["duplicates"] = find_duplicates(ticket, limit=5)
    return context


@bp.post("/tickets/<reference>/decide/<action>")
@login_required
def decide_ticket(reference: str, action: str):  # type: ignore[no-untyped-def]
    """One of the office's decisions from the ticket page; a refusal comes back to the
    page with why (the service checks role and state)."""
    if action not in OFFICE_ACTIONS:
        abort(404)
    from web.main import ticket_page

    try:
        perform(reference, action, current_user, decision_arguments(action))
    except HotlineError as exc:
        return ticket_page(reference, error=message_for(exc), status=exc.status)
    flash(_("%(reference)s: %(action)s done", reference=reference, action=_(action)), "ok")
    if request.form.get("next") == "console":
        return redirect(url_for("desk.console_page"), 303)
    return redirect(url_for("main.ticket", reference=reference), 303)
