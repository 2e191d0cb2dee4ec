"""Twilio webhooks: every request is signature-checked before anything is stored."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, abort, current_app, request
from twilio.request_validator import RequestValidator

from hotline.extensions import csrf

bp = Blueprint("twilio", __name__, url_prefix="/twilio")
csrf.exempt(bp)


def signed_url() -> str:
    """The URL Twilio signed: PUBLIC_BASE_URL + path (+ query), or the URL as received."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        return request.url
    query = request.query_string.decode()
    return base.rstrip("/") + request.path + (f"?{query}" if query else "")


def twilio_webhook(view: Callable[..., Any]) -> Callable[..., Any]:
    """403 unless `X-Twilio-Signature` matches the configured auth token."""

    @wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        token = current_app.config.get("TWILIO_AUTH_TOKEN")
        signature = request.headers.get("X-Twilio-Signature", "")
        if not token or not signature:
            abort(403, description="missing Twilio signature or TWILIO_AUTH_TOKEN")
        if not RequestValidator(token).validate(signed_url(), request.form, signature):
            abort(403, description="invalid Twilio signature")
        return view(*args, **kwargs)

    return checked


def twiml(document: Any) -> Response:
    return Response(str(document), mimetype="application/xml")


from web.twilio import sms, voice  # noqa: E402,F401  (routes register on bp)
