"""JSON API under /api/v1: bearer token or session; errors as {"error": {code, message}}."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Blueprint, Response, request
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from pydantic import BaseModel, ValidationError
from wtforms.validators import ValidationError as CSRFInvalid

from hotline.auth import bearer_token, user_for_token
from hotline.errors import InvalidInput, NotAuthenticated, PermissionDenied
from hotline.extensions import csrf, login_manager
from hotline.models import User

M = TypeVar("M", bound=BaseModel)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

PUBLIC_ENDPOINTS = {"api.openapi"}


@bp.before_request
def authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    token = bearer_token(request)
    if token is not None:
        # A bearer header decides who is calling, whatever session cookie came with it.
        user = user_for_token(token)
        if user is None:
            raise NotAuthenticated("invalid or revoked API token", "API 令牌无效或已撤销")
        login_manager._update_request_context_with_user(user)
        return
    if not current_user.is_authenticated:
        raise NotAuthenticated(
            "sign in or send `Authorization: Bearer <token>`", "请登录或提供 API 令牌"
        )
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        # A browser session must prove the request came from our pages.
        try:
            validate_csrf(request.headers.get("X-CSRFToken", ""))
        except CSRFInvalid as exc:
            raise PermissionDenied("missing or invalid CSRF token", "CSRF 令牌无效") from exc


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def actor() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def parse(model: type[M], data: Any | None = None) -> M:
    """Validate a JSON body; every problem is listed in the 422."""
    if data is None:
        data = request.get_json(silent=True)
        if data is None:
            if request.data.strip():
                raise InvalidInput("body is not valid JSON", "请求体不是有效的 JSON")
            data = {}
    if not isinstance(data, dict):
        raise InvalidInput("body must be a JSON object", "请求体必须是 JSON 对象")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]) or None, "message": err["msg"]}
            for err in exc.errors()
        ]
        raise InvalidInput(
            "invalid request: " + "; ".join(f"{p['field']}: {p['message']}" for p in problems),
            "请求参数有误：" + "；".join(str(p["field"]) for p in problems),
            problems=problems,
        ) from exc


from web.api import duplicates, exports, kb, kpi, meta, routing, tickets  # noqa: E402,F401  (routes register on bp)
