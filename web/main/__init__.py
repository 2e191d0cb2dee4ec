"""Health checks, the home page, and read-only ticket pages for every signed-in role."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select, text

from hotline.errors import HotlineError
from hotline.extensions import db
from hotline.models import Role, Ticket, utcnow
from hotline.models.enums import TicketStatus
from hotline.tickets.access import require_view, visible_clause
from hotline.tickets.lifecycle import STATUS_ZH
from hotline.tickets.service import perform
from web.api.serializers import ticket_detail
from web.desk.forms import message_for

bp = Blueprint("main", __name__)
PAGE_SIZE = 50


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, don't crash: this is the readiness probe
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        from hotline.queue import redis_connection

        redis_connection().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {exc.__class__.__name__}"
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503


@bp.get("/")
@login_required
def home():  # type: ignore[no-untyped-def]
    if current_user.role == Role.EDITOR:  # knowledge editors work on the knowledge base
        return redirect(url_for("kb_admin.index"))
    if current_user.role == Role.HANDLER and current_user.department is not None:
        return redirect(url_for("desk.inbox"))
    return redirect(url_for("main.tickets"))


@bp.get("/tickets")
@login_required
def tickets():  # type: ignore[no-untyped-def]
    if current_user.role == Role.EDITOR:
        abort(403)
    status = request.args.get("status", "")
    page = max(1, request.args.get("page", 1, type=int) or 1)
    query = select(Ticket).where(visible_clause(current_user))
    if status in {s.value for s in TicketStatus}:
        query = query.where(Ticket.status == status)
    query, drill = _drill_down(query)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(Ticket.received_at.desc(), Ticket.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return render_template(
        "main/tickets.html",
        tickets=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        status=status,
        drill=drill,
        statuses=list(TicketStatus),
        status_names=STATUS_ZH,
        timezone=current_app.config["TIMEZONE"],
    )


def _drill_down(query: Any) -> tuple[Any, dict[str, str]]:
    """The dashboard's drill-down filters (kept in the URL): unit, category, channel,
    received from/to (Beijing days, `to` inclusive), and overdue."""
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from hotline.models import Category, Department
    from hotline.sweeps import HANDLING

    args = request.args
    kept: dict[str, str] = {}
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    if code := args.get("department", "").strip():
        query = query.join(Department, Department.id == Ticket.department_id).where(
            Department.code == code
        )
        kept["department"] = code
    if code := args.get("category", "").strip():
        query = query.join(Category, Category.id == Ticket.category_id).where(Category.code == code)
        kept["category"] = code
    if channel := args.get("channel", "").strip():
        query = query.where(Ticket.channel == channel)
        kept["channel"] = channel
    for name, column, inclusive in (("from", "start", False), ("to", "end", True)):
        raw = args.get(name, "").strip()
        try:
            day = datetime.fromisoformat(raw).date() if raw else None
        except ValueError:
            day = None
        if day is not None:
            moment = datetime.combine(day + timedelta(days=1 if inclusive else 0), time(), zone)
            query = query.where(
                Ticket.received_at >= moment if column == "start" else Ticket.received_at < moment
            )
            kept[name] = day.isoformat()
    if args.get("overdue") == "1":
        query = query.where(Ticket.status.in_(HANDLING), Ticket.due_at < utcnow())
        kept["overdue"] = "1"
    return query, kept


@bp.get("/tickets/<reference>")
@login_required
def ticket(reference: str):  # type: ignore[no-untyped-def]
    return ticket_page(reference)


def ticket_page(reference: str, *, error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    """The ticket page (with `error` shown on top, and its HTTP status, after a refused
    action): what the user may do next is offered by role and state."""
    db.session.rollback()  # a refused action leaves nothing half-written behind
    row = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    if row is None:
        abort(404)
    try:
        require_view(current_user, row)
    except HotlineError:
        abort(403)
    from web.desk.inbox import CONTACT_METHODS, REPLY_RESULTS, unit_actions
    from web.desk.office import decision_context, may_decide

    decide = may_decide(row, current_user)
    page = render_template(
        "main/ticket.html",
        t=ticket_detail(row, current_user),
        status_names=STATUS_ZH,
        decide=decide,
        suggestions=_answers_for(row) if decide else [],
        routing=_routing_for(row) if decide else [],
        back_to="console" if "console" in (request.values.get(k) for k in ("from", "next")) else "",
        actions=unit_actions(row, current_user),
        contact_methods=CONTACT_METHODS,
        reply_results=REPLY_RESULTS,
        error=error,
        chat=_chat_for(row),
        **(decision_context(row) if decide else {}),
    )
    return page, status


def _chat_for(row: Ticket) -> dict[str, object] | None:
    """The web chat panel, for the office on a chat ticket: whether the chat is still
    open and whether this user may write in it (supervisors read)."""
    from hotline.intake.chat import MAX_TEXT, REPLY_ROLES
    from hotline.models import ChatSession
    from web.chat.events import OFFICE_ROLES

    if row.channel != "chat" or current_user.role not in OFFICE_ROLES:
        return None
    open_session = db.session.scalar(
        select(ChatSession.id).where(
            ChatSession.ticket_id == row.id, ChatSession.closed_at.is_(None)
        )
    )
    may_reply = current_user.role in REPLY_ROLES
    return {"closed": open_session is None or not may_reply, "max": MAX_TEXT}


def _answers_for(row: Ticket) -> list[object]:
    """Knowledge-base answers for a request the office may still answer directly."""
    from knowledge_base.search import search

    return search(row.content, channel="hotline", limit=3).hits


def _routing_for(row: Ticket) -> list[object]:
    """Routing's three best units for the request, with their reasons."""
    from routing.suggest import suggest

    phone = row.contact.phone if row.contact is not None else None
    return suggest(row.content, row.address, phone)


@bp.post("/tickets/<reference>/answer")
@login_required
def answer(reference: str):  # type: ignore[no-untyped-def]
    """直接答复 from the ticket page: the article used is recorded on the ticket."""
    article = request.form.get("article", "").strip()
    try:
        perform(
            reference,
            "answer_directly",
            current_user,
            {"articles": [article] if article else [], "text": request.form.get("text", "")},
        )
    except HotlineError as exc:
        flash(message_for(exc), "error")
    else:
        flash(_("Answered directly and closed."), "ok")
    return redirect(url_for("main.ticket", reference=reference))
