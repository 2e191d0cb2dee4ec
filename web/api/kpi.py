"""The figures: GET /kpi?from=&to=&group_by= (DESIGN.md), computed by hotline.kpi."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, request

from hotline.errors import InvalidInput, PermissionDenied
from hotline.kpi import report
from hotline.models import Role, utcnow
from web.api import actor, bp
from web.api.serializers import iso

READERS = frozenset({Role.SUPERVISOR, Role.ADMIN, Role.DISPATCHER})


def _moment(name: str, *, end: bool) -> datetime | None:
    """A local date (the whole day; `to` inclusive) or an ISO 8601 time (Beijing time
    when it has no offset)."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    try:
        if len(raw) == 10:
            day = datetime.fromisoformat(raw).date() + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(), tzinfo=zone)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name} must be a date (YYYY-MM-DD) or an ISO 8601 time",
            f"参数 {name} 须为日期（YYYY-MM-DD）或 ISO 8601 时间",
            field=name,
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=zone)


_THIS_MONTH = object()


def period(default_start: object = _THIS_MONTH) -> tuple[datetime | None, datetime]:
    """`from` and `to` of the request: by default the first of this month (Beijing
    time; None when `default_start` is None) to now."""
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    now = utcnow()
    start = _moment("from", end=False)
    if start is None and default_start is _THIS_MONTH:
        first = now.astimezone(zone).date().replace(day=1)
        start = datetime.combine(first, time(), tzinfo=zone)
    return start, _moment("to", end=True) or now


@bp.get("/kpi")
def kpi():  # type: ignore[no-untyped-def]
    if actor().role not in READERS:
        raise PermissionDenied(
            "only supervisors, dispatchers and admins read the figures",
            "仅督办人员、派单员和管理员可以查看考核指标",
        )
    start, end = period()
    assert start is not None
    group_by = request.args.get("group_by", "").strip() or None
    found = report(start, end, group_by)
    return {
        "from": iso(found.start),
        "to": iso(found.end),
        "group_by": found.group_by,
        "rows": found.rows,
        "total": found.total,
    }
