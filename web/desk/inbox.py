"""The department inbox (`/inbox`, handlers) and the unit's actions on a ticket page.

The inbox lists only the unit's tickets, nearest deadline first with yellow/red marks,
and refreshes itself when the unit's socket room hears of a change (static/js/live_list.js).
The action forms post to `/tickets/<reference>/act/<action>` and are checked with the
JSON API's own schemas and services, so a form and a script get the same answers."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from hotline.errors import HotlineError
from hotline.models import Role
from hotline.models.enums import ReplyResult
from hotline.tickets.inbox import unit_inbox
from hotline.tickets.lifecycle import STATUS_ZH
from web.desk import bp
from web.desk.forms import last_event_id, message_for, perform_form

# What a unit does on a ticket page, and the form fields each action reads.
UNIT_ACTIONS: dict[str, tuple[str, ...]] = {
    "sign": (),
    "contact": ("method", "note"),
    "note": ("note",),
    "reply": ("result", "text"),
    "request_extension": ("days", "reason"),
    "send_back": ("reason", "basis"),
}
REPLY_RESULTS = {
    ReplyResult.SOLVED: _l("Solved"),
    ReplyResult.PARTLY: _l("Partly solved"),
    ReplyResult.UNSOLVED: _l("Not solved"),
    ReplyResult.EXPLAINED: _l("Explained"),
}
CONTACT_METHODS = {
    "phone": _l("By phone"),
    "sms": _l("By SMS"),
    "visit": _l("In person"),
    "other": _l("Another way"),
}


def _handler() -> Any:
    if current_user.role != Role.HANDLER or current_user.department is None:
        abort(403)
    return current_user


@bp.get("/inbox")
@login_required
def inbox():  # type: ignore[no-untyped-def]
    user = _handler()
    box = unit_inbox(user.department_id)
    template = "desk/_inbox_rows.html" if request.args.get("fragment") else "desk/inbox.html"
    return render_template(
        template,
        box=box,
        unit=user.department,
        status_names=STATUS_ZH,
        last_event_id=last_event_id(),
    )


@bp.post("/tickets/<reference>/act/<action>")
@login_required
def act(reference: str, action: str):  # type: ignore[no-untyped-def]
    """A unit's action from the ticket page; refusals come back to the page with why."""
    if action not in UNIT_ACTIONS:
        abort(404)
    from web.main import ticket_page

    try:
        perform_form(reference, action, UNIT_ACTIONS[action])
    except HotlineError as exc:
        return ticket_page(reference, error=message_for(exc), status=exc.status)
    flash(_("Done: %(action)s", action=_(action)), "ok")
    return redirect(url_for("main.ticket", reference=reference), 303)


def unit_actions(ticket: Any, user: Any) -> list[str]:
    """The unit actions the page offers `user` on `ticket` now (the service still
    decides: a lead-only action by an assisting unit is refused with the reason)."""
    if user.role != Role.HANDLER:
        return []
    from hotline.tickets.lifecycle import TRANSITIONS

    offered = [a for a in UNIT_ACTIONS if ticket.status in TRANSITIONS[a].sources]
    if ticket.status == "in_progress" and not _unsigned(ticket, user):
        offered.remove("sign")
    return offered


def _unsigned(ticket: Any, user: Any) -> bool:
    return any(
        a.department_id == user.department_id and a.signed_at is None
        for a in ticket.current_assignments()
    )
