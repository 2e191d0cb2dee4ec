"""Duplicates (并单建议) and mass incidents (事件归并) for the hotline office.

Merging a duplicate is the lifecycle's own `POST /tickets/<reference>/merge`.
"""

from __future__ import annotations

from flask import request, url_for
from sqlalchemy import select

from hotline.errors import InvalidInput, NotFound, PermissionDenied
from hotline.extensions import db
from hotline.models import Role, Ticket, User
from routing.duplicates import find_duplicates
from routing.incidents import get_incident, group_incident, incident_members, suggest_incidents
from web.api import actor, bp, parse
from web.api.schemas import IncidentCreate
from web.api.serializers import duplicate_candidate, incident_candidate, incident_group

READERS = frozenset({Role.AGENT, Role.DISPATCHER, Role.ADMIN, Role.SUPERVISOR})


def _reader() -> User:
    user = actor()
    if user.role not in READERS:
        raise PermissionDenied(
            "only the hotline office sees duplicates and incidents",
            "仅热线工作人员可以查看重复工单和事件组",
        )
    return user


def _hours_arg(name: str, high: int) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise InvalidInput(
            f"{name} must be a whole number from 1 to {high}",
            f"参数 {name} 须为 1 到 {high} 的整数",
            field=name,
        )
    return int(raw)


@bp.get("/tickets/<reference>/duplicates")
def ticket_duplicates(reference: str):  # type: ignore[no-untyped-def]
    _reader()
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    if ticket is None:
        raise NotFound(f"no ticket {reference}", f"工单 {reference} 不存在")
    candidates = find_duplicates(ticket, days=_hours_arg("days", 90))
    return {"candidates": [duplicate_candidate(c) for c in candidates]}


@bp.get("/incidents/candidates")
def incident_candidates():  # type: ignore[no-untyped-def]
    _reader()
    found = suggest_incidents(hours=_hours_arg("hours", 24 * 14))
    return {"candidates": [incident_candidate(c) for c in found]}


@bp.post("/incidents")
def create_incident():  # type: ignore[no-untyped-def]
    user = _reader()
    body = parse(IncidentCreate)
    group = group_incident(
        body.references, title=body.title, parent_reference=body.parent, actor=user, note=body.note
    )
    location = url_for("api.get_incident_group", group_id=group.id)
    return incident_group(group, incident_members(group), user), 201, {"Location": location}


@bp.get("/incidents/<int:group_id>")
def get_incident_group(group_id: int):  # type: ignore[no-untyped-def]
    user = _reader()
    group = get_incident(group_id)
    return incident_group(group, incident_members(group), user)
