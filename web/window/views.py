"""Window pages for staff: the one form (一表填报), its printable receipt (受理回执), and the
knowledge base's answers with a printable sheet of the materials to bring."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from hotline.errors import InvalidInput
from hotline.extensions import login_manager
from hotline.intake.portal import (
    category_choices,
    deadline_outlook,
    submit_request,
    window_ticket,
)
from hotline.models import Role
from hotline.privacy import mask_phone
from web.kb_pages import article_page, save_feedback, search_page
from web.portal.forms import WindowForm, refuse, too_large_message, upload_limits
from web.window import bp

WINDOW_ROLES = frozenset({Role.AGENT, Role.DISPATCHER, Role.ADMIN})


@bp.before_request
def staff_only():  # type: ignore[no-untyped-def]
    """Every window page: signed in, and a role that takes requests (others get 403)."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.role not in WINDOW_ROLES:
        abort(403)
    return None


@bp.context_processor
def city() -> dict[str, Any]:
    return {"city_name": current_app.config["CITY_NAME"], "layout": "base.html"}


@bp.route("/", methods=["GET", "POST"])
def take_request():  # type: ignore[no-untyped-def]
    form = WindowForm()
    form.set_categories(category_choices())
    if form.validate_on_submit():
        try:
            ticket, _created = submit_request(
                form.new_ticket(), form.uploads(), actor=current_user._get_current_object()
            )
        except InvalidInput as exc:
            refuse(form, exc)
        else:
            return redirect(url_for(".receipt", reference=ticket.reference))
    form.prepare()
    posted = request.method == "POST"
    return render_template(
        "window/form.html",
        form=form,
        limits=upload_limits(),
        choose_files_again=posted and bool(form.uploads()),
    ), 400 if posted else 200


@bp.get("/receipt/<reference>")
def receipt(reference: str):  # type: ignore[no-untyped-def]
    ticket = window_ticket(reference, current_user)
    phone = ticket.contact.phone if ticket.contact is not None else None
    return render_template(
        "window/receipt.html",
        ticket=ticket,
        outlook=deadline_outlook(ticket),
        phone=mask_phone(phone),
        track_url=public_url(url_for("portal.track", reference=ticket.reference)),
    )


def public_url(path: str) -> str:
    """An address citizens can use: PUBLIC_BASE_URL behind a proxy, else this request's."""
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    return str(base).rstrip("/") + path


@bp.errorhandler(413)
def too_large(_exc: HTTPException):  # type: ignore[no-untyped-def]
    return render_template(
        "portal/problem.html",
        title=_("The upload is too large"),
        message=too_large_message(),
        back=url_for(".take_request"),
    ), 413


# --- the knowledge base at the window: the same answers, a sheet to hand the citizen ------

KB_CHANNEL = "window"


@bp.get("/kb")
def kb_search():  # type: ignore[no-untyped-def]
    return search_page(KB_CHANNEL, "window/kb_search.html")


@bp.get("/kb/<key>")
def kb_article(key: str):  # type: ignore[no-untyped-def]
    return article_page(key, KB_CHANNEL, "window/kb_article.html")


@bp.post("/kb/<key>/feedback")
def kb_feedback(key: str):  # type: ignore[no-untyped-def]
    helpful = request.form.get("helpful")
    if helpful not in ("yes", "no"):
        abort(400)
    return save_feedback(key, KB_CHANNEL, helpful)
