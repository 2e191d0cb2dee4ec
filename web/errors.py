"""Map the HotlineError hierarchy and HTTP errors to JSON (API, or asked for) or HTML."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from hotline.errors import HotlineError
from hotline.extensions import db

log = logging.getLogger(__name__)

HTTP_MESSAGES_ZH = {
    400: "请求无效",
    401: "请先登录",
    403: "没有权限",
    404: "找不到该资源",
    405: "不支持该请求方法",
    409: "状态冲突",
    413: "上传内容过大",
    415: "不支持的内容类型",
    422: "输入有误",
    429: "请求过于频繁，请稍后再试",
    500: "服务器内部错误",
}


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json"


def error_response(status: int, body: dict) -> tuple[Response, int] | tuple[str, int]:
    if wants_json():
        return jsonify({"error": body}), status
    return render_template("error.html", status=status, error=body), status


def register_handlers(app: Flask) -> None:
    @app.errorhandler(HotlineError)
    def handle_hotline_error(exc: HotlineError):  # type: ignore[no-untyped-def]
        db.session.rollback()
        return error_response(exc.status, exc.to_dict())

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        status = exc.code or 500
        body = {
            "code": (exc.name or "error").lower().replace(" ", "_"),
            "message": exc.description or exc.name,
            "message_zh": HTTP_MESSAGES_ZH.get(status, exc.name),
        }
        return error_response(status, body)

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        # A 500 is a bug: log it with its traceback, never show internals.
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(
            500,
            {"code": "internal_error", "message": "Internal error", "message_zh": "服务器内部错误"},
        )
