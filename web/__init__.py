"""Web layer: blueprints, templates and static files. Nothing imports `web`."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, Response, request
from flask_babel import get_locale


def register(app: Flask) -> None:
    from web.api import bp as api_bp
    from web.auth import bp as auth_bp
    from web.chat import bp as chat_bp
    from web.desk import bp as desk_bp
    from web.kb_admin import bp as kb_admin_bp
    from web.lines import bp as lines_bp
    from web.main import bp as main_bp
    from web.ops import bp as ops_bp
    from web.portal import bp as portal_bp
    from web.supervisor import bp as supervisor_bp
    from web.twilio import bp as twilio_bp
    from web.window import bp as window_bp

    for blueprint in (
        api_bp,
        auth_bp,
        chat_bp,
        desk_bp,
        kb_admin_bp,
        lines_bp,
        main_bp,
        ops_bp,
        portal_bp,
        supervisor_bp,
        twilio_bp,
        window_bp,
    ):
        app.register_blueprint(blueprint)
    app.after_request(security_headers)
    app.add_template_filter(localtime)
    app.jinja_env.globals["get_locale"] = get_locale


def localtime(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Show a time (aware datetime or ISO 8601 text) in the city's time zone."""
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    from flask import current_app

    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime(fmt)


def security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        # The agents' browser phone talks to Twilio and plays its ringing sounds.
        "connect-src 'self' ws: wss: https://*.twilio.com; "
        "media-src 'self' https://sdk.twilio.com; frame-ancestors 'none'",
    )
    return response
