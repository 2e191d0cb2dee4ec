"""What every part of the OpenAPI document refers to: schema references and shapes."""

from __future__ import annotations

from typing import Any

REF = "#/components/schemas/{model}"
STRINGS = {"type": "array", "items": {"type": "string"}}
TIME = {"type": ["string", "null"], "format": "date-time"}


def json_content(ref: str, description: str = "OK") -> dict[str, Any]:
    """A JSON response whose body is the named component schema."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(model=ref)}}},
    }
