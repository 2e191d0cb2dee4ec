"""The supervisors' pages. `/supervisor/hotspots`: the early warnings (苗头性预警), newest
first, each with the tickets behind it, refreshed live as new ones are raised."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from hotline.hotspots import recent_alerts, tickets_of
from hotline.models import Role
from web.desk.forms import last_event_id

bp = Blueprint("supervisor", __name__, url_prefix="/supervisor")
SUPERVISING = frozenset({Role.SUPERVISOR, Role.ADMIN})


@bp.get("/hotspots")
@login_required
def hotspots():  # type: ignore[no-untyped-def]
    if current_user.role not in SUPERVISING:
        abort(403)
    alerts = [(alert, tickets_of(alert)) for alert in recent_alerts()]
    template = (
        "supervisor/_hotspot_rows.html"
        if request.args.get("fragment")
        else "supervisor/hotspots.html"
    )
    return render_template(template, alerts=alerts, last_event_id=last_event_id())
