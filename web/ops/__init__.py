"""The background work page for supervisors and admins (`/ops/jobs`): failed jobs with a
button to run each again, the outbox waiting for Redis, and citizens' SMS held or failed
(hotline.background)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from hotline import background
from hotline.errors import HotlineError
from hotline.models import Role
from web.desk.forms import message_for

bp = Blueprint("ops", __name__, url_prefix="/ops")
OPS_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})


def _overseer() -> Any:
    if current_user.role not in OPS_ROLES:
        abort(403)
    return current_user


def _page(error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template("ops/jobs.html", backlog=background.backlog(), error=error), status


@bp.get("/jobs")
@login_required
def jobs():  # type: ignore[no-untyped-def]
    _overseer()
    return _page()


@bp.post("/jobs/<job_id>/retry")
@login_required
def retry(job_id: str):  # type: ignore[no-untyped-def]
    _overseer()
    try:
        background.retry_failed(job_id[:128])
    except HotlineError as exc:
        return _page(message_for(exc), exc.status)
    flash(_("The job is queued again: %(job)s", job=job_id), "ok")
    return redirect(url_for("ops.jobs"), 303)
