"""Online hall pages for citizens (no sign-in): landing, submit a request, its result, track,
and the knowledge base's answers."""

from __future__ import annotations

from typing import Any

from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from hotline.errors import InvalidInput, NotFound
from hotline.extensions import limiter
from hotline.intake.portal import accepted_ticket, deadline_outlook, submit_request, track_ticket
from web.kb_pages import article_page, save_feedback, search_page
from web.portal import bp
from web.portal.forms import RequestForm, TrackForm, refuse, too_large_message, upload_limits

LAYOUT = "portal/layout.html"
SUBMITTED = "portal_submitted"  # session key: the reference the result page shows


def public_limit() -> str:
    return str(current_app.config["PUBLIC_RATE_LIMIT"])


@bp.context_processor
def city() -> dict[str, Any]:
    return {"city_name": current_app.config["CITY_NAME"], "layout": LAYOUT}


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    return render_template("portal/home.html")


@bp.route("/submit", methods=["GET", "POST"])
@limiter.limit(public_limit, methods=["POST"])
def submit():  # type: ignore[no-untyped-def]
    form = RequestForm()
    if form.validate_on_submit():
        try:
            ticket, _created = submit_request(form.new_ticket(), form.uploads())
        except InvalidInput as exc:
            refuse(form, exc)
        else:
            session[SUBMITTED] = ticket.reference
            return redirect(url_for(".submitted"))
    form.prepare()
    posted = request.method == "POST"
    return render_template(
        "portal/submit.html",
        form=form,
        limits=upload_limits(),
        choose_files_again=posted and bool(form.uploads()),
    ), 400 if posted else 200


@bp.get("/submitted")
def submitted():  # type: ignore[no-untyped-def]
    reference = session.get(SUBMITTED)
    ticket = accepted_ticket(str(reference)) if reference else None
    if ticket is None:
        return redirect(url_for(".submit"))
    return render_template("portal/submitted.html", ticket=ticket, outlook=deadline_outlook(ticket))


@bp.route("/track", methods=["GET", "POST"])
@limiter.limit(public_limit, methods=["POST"])
def track():  # type: ignore[no-untyped-def]
    form = TrackForm()
    if not form.is_submitted():
        form.reference.data = request.args.get("reference", "")[:32]
        return render_template("portal/track.html", form=form)
    if not form.validate():
        return render_template("portal/track.html", form=form), 400
    try:
        tracked = track_ticket(form.reference.data or "", form.last4.data or "")
    except NotFound as exc:
        refuse(form, exc)
        return render_template("portal/track.html", form=form), 404
    return render_template("portal/track.html", form=form, tracked=tracked)


# --- friendly pages for what never reaches a view ---------------------------------


def problem_page(status: int, title: str, message: str, back: str) -> tuple[str, int]:
    return render_template("portal/problem.html", title=title, message=message, back=back), status


@bp.errorhandler(413)
def too_large(_exc: HTTPException):  # type: ignore[no-untyped-def]
    return problem_page(413, _("The upload is too large"), too_large_message(), url_for(".submit"))


@bp.errorhandler(429)
def too_many(_exc: HTTPException):  # type: ignore[no-untyped-def]
    return problem_page(
        429,
        _("Too many requests"),
        _("You have sent too many requests in a short time. Please wait a while and try again."),
        url_for(".home"),
    )


@bp.errorhandler(CSRFError)
def form_expired(_exc: CSRFError):  # type: ignore[no-untyped-def]
    return problem_page(
        400,
        _("The form has expired"),
        _("The page was open too long or came from elsewhere. Please fill in the form again."),
        request.path,
    )


# --- the knowledge base (办事指南 and answers, the same as on the phone) -----------------

KB_CHANNEL = "portal"


@bp.get("/kb")
@limiter.limit(lambda: current_app.config["PUBLIC_SEARCH_RATE_LIMIT"])
def kb_search():  # type: ignore[no-untyped-def]
    return search_page(KB_CHANNEL, "portal/kb_search.html")


@bp.get("/kb/<key>")
def kb_article(key: str):  # type: ignore[no-untyped-def]
    return article_page(key, KB_CHANNEL, "portal/kb_article.html")


@bp.post("/kb/<key>/feedback")
@limiter.limit(public_limit)
def kb_feedback(key: str):  # type: ignore[no-untyped-def]
    helpful = request.form.get("helpful")
    if helpful not in ("yes", "no"):
        return problem_page(
            400,
            _("Invalid request"),
            _("Please say whether the answer helped you."),
            url_for(".kb_article", key=key),
        )
    return save_feedback(key, KB_CHANNEL, helpful)
