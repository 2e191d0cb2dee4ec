"""Deadline preview and the OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app, request

from hotline.errors import InvalidInput
from hotline.models.enums import TicketType, Urgency
from web.api import bp
from web.api.openapi import build_document
from web.api.serializers import iso


def _parse_time(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(
            "received_at must be an ISO 8601 time",
            "received_at 须为 ISO 8601 时间",
            field="received_at",
        ) from exc
    if value.tzinfo is None:  # a bare local time is Beijing time
        value = value.replace(tzinfo=ZoneInfo(current_app.config["TIMEZONE"]))
    return value.astimezone(UTC)


@bp.get("/deadlines/preview")
def deadline_preview():  # type: ignore[no-untyped-def]
    from hotline.clock.service import preview

    kind = request.args.get("type", "")
    urgency = request.args.get("urgency", "general") or "general"
    if kind not in {t.value for t in TicketType}:
        raise InvalidInput(
            "type must be one of " + ", ".join(t.value for t in TicketType),
            "诉求类型无效",
            field="type",
        )
    if urgency not in {u.value for u in Urgency}:
        raise InvalidInput(
            "urgency must be one of " + ", ".join(u.value for u in Urgency),
            "紧急程度无效",
            field="urgency",
        )
    raw = request.args.get("received_at", "").strip()
    received_at = _parse_time(raw) if raw else datetime.now(UTC)
    result = preview(kind, urgency, received_at)
    return {
        "type": kind,
        "urgency": urgency,
        "received_at": iso(received_at),
        "sign_due_at": iso(result["sign_due_at"]),
        "due_at": iso(result["due_at"]),
        "provisional": result["provisional"],
    }


@bp.get("/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    return build_document()
