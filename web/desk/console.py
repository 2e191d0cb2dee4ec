"""The agent console (`/console`): presence, and the live queue of everything waiting
for an agent, oldest first with its waiting time. An item opens the ticket page, where
the agent answers directly from the knowledge base or the desk dispatches."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from hotline import assignment, console
from hotline.errors import HotlineError
from hotline.models import Role
from web.desk import bp
from web.desk.forms import last_event_id, message_for

CONSOLE_ROLES = frozenset({Role.AGENT, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
STATE_NAMES = {
    "available": _l("Available"),
    "busy": _l("Busy"),
    "after_call": _l("After-call work"),
    "away": _l("Away"),
}
KIND_NAMES = {
    "call": _l("Call waiting"),
    "callback": _l("Callback"),
    "ticket": _l("New request"),
    "chat": _l("Chat"),
    "on_call": _l("On the line"),
}


def _console_user() -> Any:
    if current_user.role not in CONSOLE_ROLES:
        abort(403)
    return current_user


def _page(user: Any, *, error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    fragment = request.method == "GET" and request.args.get("fragment")
    page = render_template(
        "desk/_console_body.html" if fragment else "desk/console.html",
        items=console.queue(user),
        mine=console.my_work(user),
        last_event_id=last_event_id(),
        state=None if fragment else console.state_of(user),
        states=STATE_NAMES,
        kinds=KIND_NAMES,
        error=error,
    )
    return page, status


@bp.get("/console")
@login_required
def console_page():  # type: ignore[no-untyped-def]
    return _page(_console_user())


@bp.post("/console/state")
@login_required
def console_state():  # type: ignore[no-untyped-def]
    user = _console_user()
    try:
        record = console.set_state(user, request.form.get("state", ""))
    except HotlineError as exc:
        return _page(user, error=message_for(exc), status=exc.status)
    flash(_("Your state: %(state)s", state=STATE_NAMES[record["state"]]), "ok")
    return redirect(url_for("desk.console_page"), 303)


@bp.post("/console/callbacks/<int:callback_id>/done")
@login_required
def callback_done(callback_id: int):  # type: ignore[no-untyped-def]
    """The agent has called the citizen back: the next waiting item may come."""
    user = _console_user()
    try:
        assignment.finish_callback(callback_id, user)
    except HotlineError as exc:
        return _page(user, error=message_for(exc), status=exc.status)
    flash(_("Callback done."), "ok")
    return redirect(url_for("desk.console_page"), 303)
