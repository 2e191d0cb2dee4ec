"""The knowledge base's part of the OpenAPI document (统一知识库): search, read, rate."""

from __future__ import annotations

from typing import Any

from web.api.openapi_base import REF, STRINGS, TIME, json_content

_CHANNEL_PARAM = {
    "name": "channel",
    "in": "query",
    "description": "only articles flagged for this channel (phone, sms, chat = hotline; "
    "web = portal); omitted: every channel",
    "schema": {"enum": ["hotline", "portal", "window", "phone", "sms", "chat", "web"]},
}
_KIND = {"enum": ["qa", "guide", "policy", "notice"]}
_DATE = {"type": ["string", "null"], "format": "date"}

KB_SCHEMAS: dict[str, Any] = {
    "KbSearchResults": {
        "type": "object",
        "required": ["results"],
        "properties": {
            "results": {
                "type": "array",
                "description": "best first",
                "items": {
                    "type": "object",
                    "required": ["id", "title", "kind", "score", "snippet"],
                    "properties": {
                        "id": {"type": "string", "description": "the article key, kb-0001"},
                        "title": {"type": "string"},
                        "kind": _KIND,
                        "kind_label": {"type": "string"},
                        "score": {"type": "number", "minimum": 0, "maximum": 1},
                        "snippet": {"type": "string"},
                        "matched": STRINGS,
                    },
                },
            },
            "useful": {"type": "boolean", "description": "false: counted as a knowledge gap"},
            "query": {"type": "string"},
            "channel": {"type": ["string", "null"]},
        },
    },
    "KbArticle": {
        "type": "object",
        "required": [
            "id",
            "title",
            "kind",
            "kind_label",
            "category",
            "department",
            "answer",
            "answer_html",
            "keywords",
            "questions",
            "materials",
            "issuing_unit",
            "document_number",
            "effective_from",
            "effective_to",
            "channels",
            "version",
            "published_at",
        ],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "kind": _KIND,
            "kind_label": {"type": "string"},
            "category": {"type": ["string", "null"]},
            "category_name": {"type": ["string", "null"]},
            "department": {"type": ["string", "null"]},
            "department_name": {"type": ["string", "null"]},
            "answer": {"type": "string", "description": "Markdown"},
            "answer_html": {"type": "string", "description": "sanitised HTML"},
            "keywords": STRINGS,
            "questions": {**STRINGS, "description": "similar questions: how citizens ask"},
            "materials": STRINGS,
            "issuing_unit": {"type": ["string", "null"]},
            "document_number": {"type": ["string", "null"]},
            "effective_from": _DATE,
            "effective_to": _DATE,
            "channels": {"type": "array", "items": {"enum": ["hotline", "portal", "window"]}},
            "version": {"type": "integer"},
            "state": {"type": "string"},
            "status": {"type": "string"},
            "published_at": TIME,
        },
    },
    "KbFeedbackResult": {
        "type": "object",
        "required": ["id", "helpful", "helpful_count", "unhelpful_count"],
        "properties": {
            "id": {"type": "string"},
            "helpful": {"type": "boolean"},
            "helpful_count": {"type": "integer"},
            "unhelpful_count": {"type": "integer"},
        },
    },
}


def kb_paths(errors: dict[str, Any]) -> dict[str, Any]:
    """Search, read and rate knowledge-base articles (统一知识库)."""
    key = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/kb/search": {
            "get": {
                "summary": "Published, in-force articles answering a question, best first",
                "description": "Any signed-in role. A question with no useful answer is "
                "counted as a knowledge gap unless `gap=0`.",
                "parameters": [
                    {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
                    },
                    _CHANNEL_PARAM,
                    {"name": "gap", "in": "query", "schema": {"enum": ["0", "1"]}},
                ],
                "responses": {"200": json_content("KbSearchResults"), **errors},
            }
        },
        "/kb/articles/{key}": {
            "get": {
                "summary": "One published, in-force article",
                "description": "Drafts, withdrawn and expired articles are 404. Editors and "
                "administrators may ask for any version, drafts included, with `version`.",
                "parameters": [
                    key,
                    _CHANNEL_PARAM,
                    {"name": "version", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                ],
                "responses": {"200": json_content("KbArticle"), **errors},
            }
        },
        "/kb/articles/{key}/feedback": {
            "post": {
                "summary": "Say whether an article helped (有帮助 / 没帮助)",
                "description": "Not helpful with a `query` also counts that question as a "
                "knowledge gap.",
                "parameters": [key],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": REF.format(model="KbFeedback")}}
                    },
                },
                "responses": {"201": json_content("KbFeedbackResult", "recorded"), **errors},
            }
        },
    }
