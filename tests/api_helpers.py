"""Small helpers for API tests: check a response's status and return its JSON."""

from __future__ import annotations

from typing import Any


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.json
    return response.json


def refused(response: Any, status: int, code: str | None = None) -> Any:
    """A refusal with the expected status (and code), in both languages."""
    assert response.status_code == status, response.json
    if code:
        assert response.json["error"]["code"] == code
    assert response.json["error"]["message"] and response.json["error"]["message_zh"]
    return response.json["error"]


def new_ticket(staff: Any, **extra: Any) -> str:
    """Accept a ticket as the `agent` user; returns its reference."""
    body = {"channel": "phone", "type": "complaint", "content": "噪音扰民", **extra}
    response = staff.post("agent", "/tickets", body)
    assert response.status_code == 201, response.json
    return str(response.json["reference"])
