"""Tickets: create, read, list, and every lifecycle action."""

from __future__ import annotations

import hashlib

from flask import current_app, request, url_for
from sqlalchemy import func, select

from hotline import privacy
from hotline.errors import InvalidInput, NotFound, PermissionDenied
from hotline.extensions import db
from hotline.models import Department, Role, Ticket
from hotline.models.enums import Channel, TicketStatus
from hotline.tickets import lifecycle
from hotline.tickets.access import FULL_IDENTITY, require_view, visible_clause
from hotline.tickets.service import NewTicket, normalise_phone, open_ticket, perform
from web.api import actor, bp, parse
from web.api.schemas import ACTION_BODIES, TicketCreate
from web.api.serializers import ticket_detail, ticket_summary

CREATORS = (Role.AGENT, Role.DISPATCHER, Role.ADMIN)


def _load_visible(reference: str) -> Ticket:
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    if ticket is None:
        raise NotFound(f"no ticket {reference}", f"工单 {reference} 不存在")
    require_view(actor(), ticket)
    return ticket


@bp.post("/tickets")
def create_ticket():  # type: ignore[no-untyped-def]
    user = actor()
    if user.role not in CREATORS:
        raise PermissionDenied(
            "only the hotline office accepts tickets", "仅热线受理人员可以登记工单"
        )
    body = parse(TicketCreate)
    key = request.headers.get("Idempotency-Key", "").strip()
    # Hashed so any key length fits the column and distinct keys never collide.
    external_id = "api:" + hashlib.sha256(key.encode()).hexdigest()[:56] if key else None
    new = NewTicket(**body.model_dump(), external_id=external_id)
    ticket, created = open_ticket(new, user)
    response = ticket_detail(ticket, user)
    location = url_for("api.get_ticket", reference=ticket.reference)
    return response, 201 if created else 200, {"Location": location}


@bp.get("/tickets/<reference>")
def get_ticket(reference: str):  # type: ignore[no-untyped-def]
    return ticket_detail(_load_visible(reference), actor())


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(
            f"{name} must be a whole number from {low} to {high}",
            f"参数 {name} 须为 {low} 到 {high} 的整数",
            field=name,
        )
    return int(raw)


@bp.get("/tickets")
def list_tickets():  # type: ignore[no-untyped-def]
    user = actor()
    if user.role == Role.EDITOR:
        raise PermissionDenied("knowledge editors do not read tickets", "知识库编辑无权查看工单")
    config = current_app.config
    page = _int_arg("page", 1, 1, 1_000_000)
    per_page = _int_arg("per_page", config["API_PAGE_SIZE"], 1, config["API_MAX_PAGE_SIZE"])
    query = select(Ticket).where(visible_clause(user))
    status = request.args.get("status", "").strip()
    if status:
        wanted = status.split(",")
        unknown = set(wanted) - {s.value for s in TicketStatus}
        if unknown:
            raise InvalidInput(f"unknown status {sorted(unknown)}", "状态参数无效", field="status")
        query = query.where(Ticket.status.in_(wanted))
    channel = request.args.get("channel", "").strip()
    if channel:
        if channel not in {c.value for c in Channel}:
            raise InvalidInput(f"unknown channel {channel!r}", "渠道参数无效", field="channel")
        query = query.where(Ticket.channel == channel)
    department = request.args.get("department", "").strip()
    if department:
        unit = db.session.scalar(select(Department).where(Department.code == department))
        if unit is None:
            raise InvalidInput(
                f"unknown department {department!r}", "单位参数无效", field="department"
            )
        query = query.where(Ticket.department_id == unit.id)
    phone = request.args.get("phone", "").strip()
    if phone:
        from hotline.models import Contact

        digest = privacy.lookup_hash(normalise_phone(phone, config["DEFAULT_REGION"]))
        query = query.join(Contact, Ticket.contact_id == Contact.id).where(
            Contact.phone_hash == digest
        )
        if user.role not in FULL_IDENTITY:  # nobody else may confirm a confidential caller
            query = query.where(Ticket.confidential.is_(False))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.order_by(Ticket.received_at.desc(), Ticket.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return {
        "items": [ticket_summary(t, user) for t in rows],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


@bp.post("/tickets/<reference>/<action>")
def ticket_action(reference: str, action: str):  # type: ignore[no-untyped-def]
    if action not in lifecycle.TRANSITIONS:
        raise NotFound(
            f"unknown action {action!r}; actions: {', '.join(lifecycle.ACTIONS)}",
            f"未知操作 {action!r}",
        )
    user = actor()
    ticket = _load_visible(reference)
    body = parse(ACTION_BODIES[action])
    ticket = perform(ticket.reference, action, user, body.model_dump(exclude_none=False))
    return ticket_detail(ticket, user)
