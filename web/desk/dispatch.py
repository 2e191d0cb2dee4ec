"""The dispatcher's desk (`/dispatch`): the tickets waiting on the hotline centre, with
one form per decision. Forms are checked with the JSON API's schemas and run through the
same services; a refusal re-renders the desk with the reason and its status."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from hotline.errors import HotlineError
from hotline.extensions import db
from hotline.models import Department, Role
from hotline.tickets.desk import dispatcher_desk
from hotline.tickets.lifecycle import STATUS_ZH
from web.desk import bp
from web.desk.forms import last_event_id, message_for, perform_form

DESK_ROLES = frozenset({Role.DISPATCHER, Role.ADMIN, Role.SUPERVISOR})
# The desk's decisions and the form fields each reads.
DESK_ACTIONS: dict[str, tuple[str, ...]] = {
    "dispatch": ("department", "note"),
    "review_return": ("approve", "department", "note"),
    "review_extension": ("approve", "note"),
    "review_reply": ("approve", "note"),
    "merge": ("into",),
}


def _desk_user() -> Any:
    if current_user.role not in DESK_ROLES:
        abort(403)
    return current_user


def desk_page(*, error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    db.session.rollback()  # a refused decision leaves nothing half-written behind
    fragment = request.method == "GET" and request.args.get("fragment")
    page = render_template(
        "desk/_dispatch_sections.html" if fragment else "desk/dispatch.html",
        desk=dispatcher_desk(),
        units=db.session.execute(
            select(Department.code, Department.name)
            .where(Department.active.is_(True))
            .order_by(Department.code)
        ).all(),
        status_names=STATUS_ZH,
        error=error,
        last_event_id=last_event_id(),
    )
    return page, status


@bp.get("/dispatch")
@login_required
def dispatch_desk():  # type: ignore[no-untyped-def]
    _desk_user()
    return desk_page()


@bp.post("/dispatch/<reference>/<action>")
@login_required
def decide(reference: str, action: str):  # type: ignore[no-untyped-def]
    _desk_user()
    if action not in DESK_ACTIONS:
        abort(404)
    try:
        perform_form(reference, action, DESK_ACTIONS[action])
    except HotlineError as exc:
        return desk_page(error=f"{reference}: {message_for(exc)}", status=exc.status)
    flash(_("%(reference)s: %(action)s done", reference=reference, action=_(action)), "ok")
    return redirect(url_for("desk.dispatch_desk"), 303)
