"""The citizen's chat page (/chat) and starting a chat; the conversation runs over Socket.IO."""

from __future__ import annotations

from typing import Any

from flask import (
    Response,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as WerkzeugResponse

from hotline.errors import InvalidInput
from hotline.extensions import limiter
from hotline.intake.chat import MAX_TEXT, conversation_for_token, start_chat
from web.chat import bp

COOKIE = "hotline_chat"
COOKIE_MAX_AGE = 7 * 24 * 3600


def current_chat_token() -> str | None:
    return request.cookies.get(COOKIE)


@bp.get("")
def index():  # type: ignore[no-untyped-def]
    return _page({}, None, 200)


@bp.post("/start")
@limiter.limit(lambda: current_app.config["PUBLIC_RATE_LIMIT"])
def start():  # type: ignore[no-untyped-def]
    as_json = request.is_json
    fields: dict[str, Any] = (request.get_json(silent=True) or {}) if as_json else request.form
    try:
        if not isinstance(fields, dict):
            raise InvalidInput("expected a JSON object", "请求格式无效")
        started = start_chat(
            fields.get("content"),
            phone=_text(fields.get("phone")),
            name=_text(fields.get("name")),
        )
    except InvalidInput as exc:
        if as_json:  # a script posting JSON gets JSON back, whatever it accepts
            return jsonify({"error": exc.to_dict()}), 422
        return _page(fields, exc, 422)
    response: WerkzeugResponse
    if as_json:
        response = jsonify({"reference": started.ticket.reference, "status": "open"})
        response.status_code = 201
    else:
        response = redirect(url_for("chat.index"), 303)
    response.set_cookie(
        COOKIE,
        started.token,
        max_age=current_app.config.get("CHAT_COOKIE_MAX_AGE", COOKIE_MAX_AGE),
        path="/",  # the Socket.IO handshake (/socket.io) must carry it too
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",
    )
    return response


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _page(fields: Any, error: InvalidInput | None, status: int) -> Response:
    response = make_response(
        render_template(
            "chat/index.html",
            chat=conversation_for_token(current_chat_token()),
            fields=fields,
            error=error,
            max_text=MAX_TEXT,
        ),
        status,
    )
    response.headers["Cache-Control"] = "no-store"  # a conversation is personal
    return response
