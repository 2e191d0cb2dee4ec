"""The supervisors' pages. `/supervisor`: the figures of a period. `/supervisor/reports`:
the daily, weekly and monthly reports, on screen or as XLSX/CSV. `/supervisor/hotspots`:
the early warnings (苗头性预警), newest first, each with the tickets behind it,
refreshed live as new ones are raised. `/wallboard`: the centre's wall screen, live."""

from __future__ import annotations

from datetime import date, timedelta

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


def _reported_day(kind: str) -> date:
    """`on` from the URL, else a day of the last complete period."""
    from hotline.errors import InvalidInput
    from hotline.reports import last_complete

    given = request.args.get("on", "").strip()
    if not given:
        return last_complete(kind)
    try:
        return date.fromisoformat(given)
    except ValueError:
        raise InvalidInput(
            "on must be a date (YYYY-MM-DD)", "日期格式应为 YYYY-MM-DD", field="on"
        ) from None


@bp.get("/supervisor/reports")
@login_required
def reports():  # type: ignore[no-untyped-def]
    """The daily, weekly or monthly report (日报/周报/月报), on screen or downloaded."""
    from hotline import exports
    from hotline.dashboard import PEER_GROUPS
    from hotline.errors import HotlineError
    from hotline.kpi import DEFINITIONS
    from hotline.reports import KEY_FIGURES, PERIODS, build, previous, rows
    from web.api.exports import download

    if current_user.role not in SUPERVISING:
        abort(403)
    kind = request.args.get("period", "day")
    fmt = request.args.get("format", "").strip().lower()
    try:
        if fmt:
            exports.check_request(current_user, fmt, False)
        found = build(kind, _reported_day(kind))
    except HotlineError as exc:
        return render_template("error.html", status=exc.status, error=exc.to_dict()), exc.status
    if fmt:
        header, table = rows(found)
        body = exports.render(fmt, gettext("report_" + kind), header, table)
        exports.record_export(current_user, f"report:{kind}", len(table), fmt, False)
        return download(f"report-{kind}-{found.first.isoformat()}", fmt, body)
    before = previous(kind, found.first)
    return render_template(
        "supervisor/reports.html",
        report=found,
        periods=PERIODS,
        definitions=DEFINITIONS,
        key_figures=KEY_FIGURES,
        peer_groups=PEER_GROUPS,
        earlier=before[0],
        later=found.last + timedelta(days=1),
    )
