"""Downloads: GET /exports/tickets and GET /exports/kpi as CSV or XLSX, de-identified
unless an admin asks for `full=1` (hotline.exports); every export is audited."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Response, current_app, request

from hotline import exports
from hotline.errors import PermissionDenied
from hotline.kpi import report
from hotline.models import Role, utcnow
from hotline.models.enums import TicketStatus
from web.api import actor, bp
from web.api.kpi import READERS as KPI_READERS
from web.api.kpi import period

TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def download(name: str, fmt: str, body: bytes) -> Response:
    stamp = utcnow().astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime("%Y%m%d-%H%M")
    response = Response(body, mimetype=TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _asked() -> tuple[str, bool]:
    return request.args.get("format", "xlsx").strip().lower(), request.args.get("full") == "1"


@bp.get("/exports/tickets")
def export_tickets():  # type: ignore[no-untyped-def]
    viewer = actor()
    if viewer.role == Role.EDITOR:
        raise PermissionDenied("knowledge editors see no tickets", "知识库编辑无权导出工单")
    fmt, full = _asked()
    exports.check_request(viewer, fmt, full)
    status = request.args.get("status", "").strip()
    start, end = period(default_start=None)
    rows = exports.ticket_rows(
        viewer,
        full=full,
        status=status if status in {s.value for s in TicketStatus} else None,
        start=start,
        end=end,
    )
    header = [label for _key, label in exports.TICKET_COLUMNS]
    body = exports.render(fmt, "工单", header, rows)
    exports.record_export(viewer, "tickets", len(rows), fmt, full)
    return download("tickets", fmt, body)


@bp.get("/exports/kpi")
def export_kpi():  # type: ignore[no-untyped-def]
    viewer = actor()
    if viewer.role not in KPI_READERS:
        raise PermissionDenied(
            "only supervisors, dispatchers and admins read the figures",
            "仅督办人员、派单员和管理员可以查看考核指标",
        )
    fmt, _full = _asked()
    exports.check_request(viewer, fmt, False)
    start, end = period()
    found = report(start, end, request.args.get("group_by", "").strip() or None)
    header, rows = exports.kpi_rows(found)
    body = exports.render(fmt, "考核指标", header, rows)
    exports.record_export(viewer, "kpi", len(rows), fmt, False)
    return download("kpi", fmt, body)
