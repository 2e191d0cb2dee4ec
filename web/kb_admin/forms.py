"""The article editor's form: it parses and re-fills; the service validates the content."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from hotline.errors import HotlineError
from web.kb_pages import KIND_NAMES

CHANNEL_NAMES = {
    "hotline": _l("Hotline"),
    "portal": _l("Online service hall"),
    "window": _l("Service windows"),
}
# "field: message (中文)" as knowledge_base.articles.Problem prints itself.
_PROBLEM = re.compile(r"^(?P<field>\w+): (?P<en>.*) \((?P<zh>[^()]*)\)$", re.DOTALL)


def _choices(labels: dict[str, Any]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ArticleForm(FlaskForm):
    kind = SelectField(
        _l("Kind"), choices=_choices(KIND_NAMES), validate_choice=False, default="qa"
    )
    title = StringField(_l("Title"))
    category = SelectField(_l("Category"), validate_choice=False)
    department = SelectField(_l("Responsible unit"), validate_choice=False)
    answer = TextAreaField(_l("Answer (Markdown)"))
    keywords = TextAreaField(_l("Keywords (one per line)"))
    questions = TextAreaField(_l("Similar questions: how citizens ask (one per line)"))
    materials = TextAreaField(_l("Required materials (service guides, one per line)"))
    issuing_unit = StringField(_l("Issuing unit"))
    document_number = StringField(_l("Document number"))
    effective_from = StringField(_l("Effective from"))
    effective_to = StringField(_l("Effective until"))
    channels = CheckboxesField(
        _l("Channels"),
        choices=_choices(CHANNEL_NAMES),
        validate_choice=False,
        default=list(CHANNEL_NAMES),
    )
    change_note = TextAreaField(_l("What changed"))

    def set_choices(
        self, categories: list[tuple[str, str]], departments: list[tuple[str, str]]
    ) -> None:
        self.category.choices = _choices({"": "—", **dict(categories)})
        self.department.choices = _choices({"": "—", **dict(departments)})

    def content(self) -> dict[str, Any]:
        """The content dict knowledge_base.articles expects."""
        return {
            "kind": self.kind.data,
            "title": self.title.data,
            "category": self.category.data,
            "department": self.department.data,
            "answer": self.answer.data,
            "keywords": self.keywords.data,
            "questions": self.questions.data,
            "materials": self.materials.data,
            "issuing_unit": self.issuing_unit.data,
            "document_number": self.document_number.data,
            "effective_from": self.effective_from.data,
            "effective_to": self.effective_to.data,
            "channels": list(self.channels.data or []),
            "change_note": (self.change_note.data or "").strip() or None,
        }

    def fill(self, content: dict[str, Any]) -> None:
        """Start from a version's content (ArticleVersion.content())."""
        self.kind.data = content["kind"]
        self.title.data = content["title"]
        self.category.data = content["category"] or ""
        self.department.data = content["department"] or ""
        self.answer.data = content["body"]
        self.keywords.data = "\n".join(content["keywords"])
        self.questions.data = "\n".join(content["questions"])
        self.materials.data = "\n".join(content["materials"])
        self.issuing_unit.data = content["issuing_unit"] or ""
        self.document_number.data = content["document_number"] or ""
        self.effective_from.data = _iso(content["effective_from"])
        self.effective_to.data = _iso(content["effective_to"])
        self.channels.data = list(content["channels"])

    def refuse(self, exc: HotlineError) -> None:
        """Show each of the service's problems next to its field, in the page's language."""
        english = (locale := get_locale()) is not None and locale.language == "en"
        problems = exc.details.get("problems") or [
            {
                "field": exc.details.get("field"),
                "message": exc.message,
                "message_zh": exc.message_zh,
            }
        ]
        for problem in problems:
            name, en, zh = _parse(problem)
            message = (en if english else zh) or (exc.message if english else exc.message_zh)
            field = getattr(self, name, None) if name not in ("", "meta", "csrf_token") else None
            if isinstance(field, Field):
                field.errors = [*field.errors, message]
            else:
                self.form_errors.append(f"{name}: {message}" if name else message)


def _parse(problem: Any) -> tuple[str, str, str]:
    """(field, English, Chinese) from a problem dict or its "field: en (zh)" text."""
    if isinstance(problem, dict):
        return (
            str(problem.get("field") or ""),
            str(problem.get("message") or ""),
            str(problem.get("message_zh") or problem.get("message") or ""),
        )
    match = _PROBLEM.match(str(problem))
    if match is None:
        return "", str(problem), str(problem)
    return match["field"], match["en"], match["zh"]


def _iso(value: date | None) -> str:
    return value.isoformat() if value else ""
