"""The OpenAPI 3.1 document, generated from the same models that validate requests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from hotline.kpi import GROUPS as KPI_GROUPS
from hotline.models.enums import Channel, TicketStatus, TicketType, Urgency
from hotline.tickets.lifecycle import TRANSITIONS
from web.api.openapi_base import REF
from web.api.openapi_base import STRINGS as _STRINGS
from web.api.openapi_base import TIME as _TIME
from web.api.openapi_base import json_content as _json
from web.api.openapi_kb import KB_SCHEMAS, kb_paths
from web.api.schemas import (
    ACTION_BODIES,
    IncidentCreate,
    KbFeedback,
    RoutingSuggest,
    TicketCreate,
)


def _schemas(models: list[type[BaseModel]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=REF)
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string", "description": "English"},
                "message_zh": {"type": "string", "description": "简体中文"},
                "details": {"type": "object"},
            },
        }
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
    }


TICKET = {
    "type": "object",
    "required": [
        "reference",
        "status",
        "channel",
        "type",
        "urgency",
        "title",
        "content",
        "category",
        "department",
        "territory",
        "address",
        "received_at",
        "sign_due_at",
        "due_at",
        "closed_at",
    ],
    "properties": {
        "reference": {"type": "string"},
        "status": {"enum": [s.value for s in TicketStatus]},
        "channel": {"enum": [c.value for c in Channel]},
        "type": {"enum": [t.value for t in TicketType]},
        "urgency": {"enum": [u.value for u in Urgency]},
        "title": {"type": "string"},
        "content": {"type": "string"},
        "category": {"type": ["string", "null"]},
        "department": {"type": ["string", "null"]},
        "territory": {"type": ["string", "null"]},
        "address": {"type": ["string", "null"]},
        "received_at": {"type": "string", "format": "date-time"},
        "sign_due_at": {"type": ["string", "null"], "format": "date-time"},
        "due_at": {"type": ["string", "null"], "format": "date-time"},
        "closed_at": {"type": ["string", "null"], "format": "date-time"},
        "caller": {"type": "object"},
        "events": {"type": "array", "items": {"type": "object"}},
        "messages": {"type": "array", "items": {"type": "object"}},
    },
    "additionalProperties": True,
}


INCIDENT_SCHEMAS: dict[str, Any] = {
    "DuplicateCandidates": {
        "type": "object",
        "required": ["candidates"],
        "properties": {
            "candidates": {
                "type": "array",
                "description": "best first",
                "items": {
                    "type": "object",
                    "required": ["reference", "score", "reasons", "status", "title", "received_at"],
                    "properties": {
                        "reference": {"type": "string"},
                        "score": {"type": "number", "minimum": 0, "maximum": 1},
                        "reasons": _STRINGS,
                        "status": {"enum": [s.value for s in TicketStatus]},
                        "title": {"type": "string"},
                        "received_at": {"type": "string", "format": "date-time"},
                        "incident_group": {"type": ["integer", "null"]},
                    },
                },
            }
        },
    },
    "IncidentCandidates": {
        "type": "object",
        "required": ["candidates"],
        "properties": {
            "candidates": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["references", "parent", "title", "count", "score", "reasons"],
                    "properties": {
                        "references": _STRINGS,
                        "parent": {"type": "string", "description": "proposed parent"},
                        "title": {"type": "string"},
                        "category": {"type": ["string", "null"]},
                        "territory": {"type": ["string", "null"]},
                        "count": {"type": "integer"},
                        "first_received_at": _TIME,
                        "last_received_at": _TIME,
                        "score": {"type": "number"},
                        "reasons": _STRINGS,
                    },
                },
            }
        },
    },
    "IncidentGroup": {
        "type": "object",
        "required": ["id", "title", "parent", "tickets"],
        "properties": {
            "id": {"type": "integer"},
            "title": {"type": "string"},
            "category": {"type": ["string", "null"]},
            "territory": {"type": ["string", "null"]},
            "parent": {"type": "string"},
            "note": {"type": ["string", "null"]},
            "created_at": _TIME,
            "closed_at": _TIME,
            "tickets": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "reference": {"type": "string"},
                        "role": {
                            "enum": ["parent", "merged", "linked"],
                            "description": "merged: closes with the parent; linked: "
                            "already dispatched, answered by its own unit",
                        },
                        "status": {"enum": [s.value for s in TicketStatus]},
                        "title": {"type": "string"},
                        "department": {"type": ["string", "null"]},
                        "received_at": _TIME,
                        "closed_at": _TIME,
                    },
                },
            },
        },
    },
}


def _incident_paths(errors: dict[str, Any]) -> dict[str, Any]:
    """Duplicate suggestions and incident groups (并单建议, 事件归并)."""

    def window(name: str, description: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "description": description,
            "schema": {"type": "integer", "minimum": 1},
        }

    return {
        "/tickets/{reference}/duplicates": {
            "get": {
                "summary": "Likely duplicates of a ticket (并单建议), best first",
                "description": "Open, unmerged tickets: the same caller with similar text "
                "within DUPLICATE_DAYS, or the same category and place with similar text "
                "within DUPLICATE_WINDOW_HOURS. Merge with POST /tickets/{reference}/merge.",
                "parameters": [_reference(), window("days", "the same-caller window, 1–90")],
                "responses": {"200": _json("DuplicateCandidates"), **errors},
            }
        },
        "/incidents/candidates": {
            "get": {
                "summary": "Bursts of near-identical tickets to group (事件归并建议)",
                "parameters": [window("hours", "how far back to look")],
                "responses": {"200": _json("IncidentCandidates"), **errors},
            }
        },
        "/incidents": {
            "post": {
                "summary": "Group tickets about one event under a parent (dispatchers)",
                "description": "Accepted tickets are merged into the parent and close with "
                "its reply; dispatched ones join as linked.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": REF.format(model="IncidentCreate")}}
                    },
                },
                "responses": {"201": _json("IncidentGroup", "created"), **errors},
            }
        },
        "/incidents/{group_id}": {
            "get": {
                "summary": "An incident group and its tickets",
                "parameters": [
                    {
                        "name": "group_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "responses": {"200": _json("IncidentGroup"), **errors},
            }
        },
    }


ROUTING_SUGGESTIONS = {
    "type": "object",
    "required": ["suggestions"],
    "properties": {
        "suggestions": {
            "type": "array",
            "description": "best first, at most three, one per unit",
            "items": {
                "type": "object",
                "required": ["category", "department", "territory", "score", "reasons"],
                "properties": {
                    "category": {"type": ["string", "null"]},
                    "department": {"type": ["string", "null"]},
                    "territory": {"type": ["string", "null"]},
                    "score": {"type": "number", "minimum": 0, "maximum": 1},
                    "reasons": {"type": "array", "items": {"type": "string"}},
                    "category_name": {"type": ["string", "null"]},
                    "department_name": {"type": ["string", "null"]},
                    "territory_name": {"type": ["string", "null"]},
                },
            },
        },
        "catalogue_version": {"type": ["integer", "null"]},
        "model_version": {"type": ["integer", "null"]},
    },
}


def build_document() -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        TicketCreate,
        *dict.fromkeys(ACTION_BODIES.values()),
        IncidentCreate,
        RoutingSuggest,
        KbFeedback,
    ]
    components = _schemas(models)
    components["Error"] = ERROR
    components["Ticket"] = TICKET
    components.update(INCIDENT_SCHEMAS)
    components.update(KB_SCHEMAS)
    components["TicketList"] = {
        "type": "object",
        "required": ["items", "total"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": REF.format(model="Ticket")}},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
        },
    }
    components["RoutingSuggestions"] = ROUTING_SUGGESTIONS
    errors = {
        "401": _error("not signed in"),
        "403": _error("role or unit may not do this"),
        "404": _error("no such ticket, unit or action"),
        "409": _error("illegal lifecycle transition"),
        "422": _error("invalid input or a 12345 rule refused it"),
    }
    paths: dict[str, Any] = {
        "/tickets": {
            "post": {
                "summary": "Accept a request (受理)",
                "parameters": [
                    {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": REF.format(model="TicketCreate")}}
                    },
                },
                "responses": {
                    "201": _json("Ticket", "created"),
                    "200": _json("Ticket", "already created with this Idempotency-Key"),
                    **errors,
                },
            },
            "get": {
                "summary": "List tickets the caller may see",
                "parameters": [
                    {"name": name, "in": "query", "schema": {"type": "string"}}
                    for name in ("status", "department", "phone", "channel")
                ]
                + [
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {
                        "name": "per_page",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                    },
                ],
                "responses": {"200": _json("TicketList"), **errors},
            },
        },
        "/tickets/{reference}": {
            "get": {
                "summary": "One ticket with its events and messages",
                "parameters": [_reference()],
                "responses": {"200": _json("Ticket"), **errors},
            }
        },
        "/routing/suggest": {
            "post": {
                "summary": "Routing suggestions (category, unit, territory), best first",
                "description": "Roles: agent, dispatcher, supervisor, admin. At most three "
                "suggestions, one per unit; `department` null is the hotline office's "
                "coordination queue.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": REF.format(model="RoutingSuggest")}}
                    },
                },
                "responses": {"200": _json("RoutingSuggestions"), **errors},
            }
        },
        "/kpi": {
            "get": {
                "summary": "The figures (三率, answer rates, on-time rate …) for a period",
                "description": (
                    "Rates are fractions 0-1, null where the denominator is 0; each "
                    "figure's population and formula are in hotline/kpi.py."
                ),
                "parameters": [
                    {
                        "name": "from",
                        "in": "query",
                        "description": "YYYY-MM-DD (Beijing time) or ISO 8601; default: "
                        "the first of this month",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "to",
                        "in": "query",
                        "description": "YYYY-MM-DD (that whole day) or ISO 8601; default: now",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "group_by",
                        "in": "query",
                        "schema": {"enum": list(KPI_GROUPS)},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "figures per group and in total",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["from", "to", "group_by", "rows", "total"],
                                    "properties": {
                                        "from": {"type": "string", "format": "date-time"},
                                        "to": {"type": "string", "format": "date-time"},
                                        "group_by": {"type": ["string", "null"]},
                                        "rows": {"type": "array", "items": {"type": "object"}},
                                        "total": {"type": "object"},
                                    },
                                }
                            }
                        },
                    },
                    "403": {"description": "not a supervisor, dispatcher or admin"},
                    "422": {"description": "a bad period or group"},
                },
            }
        },
        "/deadlines/preview": {
            "get": {
                "summary": "Sign and handling deadlines for a type and urgency",
                "parameters": [
                    {
                        "name": "type",
                        "in": "query",
                        "required": True,
                        "schema": {"enum": [t.value for t in TicketType]},
                    },
                    {
                        "name": "urgency",
                        "in": "query",
                        "schema": {"enum": [u.value for u in Urgency]},
                    },
                    {
                        "name": "received_at",
                        "in": "query",
                        "schema": {"type": "string", "format": "date-time"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "deadlines",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["sign_due_at", "due_at"],
                                    "properties": {
                                        "sign_due_at": {"type": "string", "format": "date-time"},
                                        "due_at": {"type": "string", "format": "date-time"},
                                        "provisional": {"type": "boolean"},
                                    },
                                }
                            }
                        },
                    },
                    **errors,
                },
            }
        },
    }
    paths.update(_incident_paths(errors))
    paths.update(kb_paths(errors))
    for action, body in ACTION_BODIES.items():
        transition = TRANSITIONS[action]
        paths[f"/tickets/{{reference}}/{action}"] = {
            "post": {
                "summary": f"{transition.label_zh} ({action})",
                "description": "Allowed from: "
                + ", ".join(sorted(transition.sources))
                + ". Roles: "
                + ", ".join(sorted(transition.roles)),
                "parameters": [_reference()],
                "requestBody": {
                    "required": action != "sign",
                    "content": {
                        "application/json": {"schema": {"$ref": REF.format(model=body.__name__)}}
                    },
                },
                "responses": {"200": _json("Ticket"), **errors},
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "12345 Hotline API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


def _reference() -> dict[str, Any]:
    return {"name": "reference", "in": "path", "required": True, "schema": {"type": "string"}}
