"""The one error hierarchy: services raise these, web layers map them to HTTP once."""

from __future__ import annotations

from typing import Any


class HotlineError(Exception):
    """Base of every expected failure; carries an HTTP status and both languages."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, message_zh: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh or message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
        }
        if self.details:
            body["details"] = self.details
        return body


class InvalidInput(HotlineError):
    status = 422
    code = "invalid_input"


class NotAuthenticated(HotlineError):
    status = 401
    code = "not_authenticated"


class PermissionDenied(HotlineError):
    status = 403
    code = "forbidden"


class NotFound(HotlineError):
    status = 404
    code = "not_found"


class InvalidTransition(HotlineError):
    """The ticket is not in a state that allows the action (409)."""

    status = 409
    code = "invalid_transition"


class RuleViolation(HotlineError):
    """The state allows the action but a 12345 rule refuses it (422)."""

    status = 422
    code = "rule_violation"


class Conflict(HotlineError):
    status = 409
    code = "conflict"


class ServiceUnavailable(HotlineError):
    """Something the request needs is down for now (Redis for agents' presence)."""

    status = 503
    code = "unavailable"


class CalendarDataMissing(HotlineError):
    """A working-day computation reached a date no calendar covers."""

    status = 409
    code = "calendar_missing"

    def __init__(self, year: int) -> None:
        super().__init__(
            f"No working-day calendar for {year}: import the State Council schedule "
            f"with `hotline calendar import`",
            f"缺少 {year} 年节假日安排数据，请使用 `hotline calendar import` 导入国务院办公厅通知",
            year=year,
        )
        self.year = year


class ImportFailed(HotlineError):
    """A file was refused; `problems` lists every (location, field, message)."""

    status = 422
    code = "import_failed"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            f"Import refused, {len(problems)} problem(s); nothing was imported",
            f"导入被拒绝，共 {len(problems)} 处问题，未导入任何数据",
            problems=problems,
        )
        self.problems = problems
