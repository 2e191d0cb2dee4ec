"""The supervisors' pages. `/supervisor/hotspots`: the early warnings (苗头性预警), newest
first, each with the tickets behind it, refreshed live as new ones are raised.
`/wallboard`: the centre's wall screen, live."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext
from flask_login import current_user, login_required

from hotline.hotspots import recent_alerts, tickets_of
from hotline.models import Role
from web.desk.forms import last_event_id

bp = Blueprint("supervisor", __name__)
SUPERVISING = frozenset({Role.SUPERVISOR, Role.ADMIN})


@bp.get("/supervisor/hotspots")
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


WALLBOARD_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN, Role.DISPATCHER, Role.AGENT})


@bp.get("/wallboard")
@login_required
def wallboard():  # type: ignore[no-untyped-def]
    """The wall screen of the hotline centre, live."""
    from hotline.wallboard import snapshot
    from web.desk.console import STATE_NAMES

    if current_user.role not in WALLBOARD_ROLES:
        abort(403)
    template = (
        "supervisor/_wallboard_body.html"
        if request.args.get("fragment")
        else "supervisor/wallboard.html"
    )
    return render_template(
        template, board=snapshot(), states=STATE_NAMES, last_event_id=last_event_id()
    )


@bp.get("/supervisor")
@login_required
def dashboard():  # type: ignore[no-untyped-def]
    """The figures of a period (filters in the URL, so a view can be shared)."""
    import json

    from hotline.dashboard import PEER_GROUPS, build
    from hotline.errors import HotlineError
    from hotline.kpi import DEFINITIONS, GROUPS
    from web.api.kpi import period

    if current_user.role not in SUPERVISING:
        abort(403)
    group_by = request.args.get("group_by", "department")
    try:
        start, end = period()
        assert start is not None
        board = build(start, end, group_by if group_by in GROUPS else "department")
    except HotlineError as exc:
        return render_template("error.html", status=exc.status, error=exc.to_dict()), exc.status
    charts = {
        "trend": {"labels": board.days, "accepted": board.accepted, "closed": board.closed},
        "channels": {
            "labels": [gettext(c) for c, _n in board.channels],
            "counts": [n for _c, n in board.channels],
        },
    }
    return render_template(
        "supervisor/dashboard.html",
        board=board,
        charts=json.dumps(charts, ensure_ascii=False),
        definitions=DEFINITIONS,
        groups=GROUPS,
        group_by=board.figures.group_by,
        peer_groups=PEER_GROUPS,
        start=request.args.get("from", ""),
        end=request.args.get("to", ""),
    )
