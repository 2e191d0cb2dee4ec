"""A lifecycle action submitted from a page form: read the action's fields, check them
with the JSON API's own schema, run the same service. One path for the inbox, the
ticket page and the dispatcher's desk, so a form and a script get the same answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from pydantic import ValidationError
from sqlalchemy import func, select

from hotline.errors import HotlineError, InvalidInput
from hotline.extensions import db
from hotline.models import OutboxItem
from hotline.tickets.service import perform
from web.api.schemas import ACTION_BODIES

FIELD_NAMES: Mapping[str, Any] = {
    "department": _l("Unit"),
    "approve": _l("Decision"),
    "method": _l("Contact method"),
    "note": _l("Note"),
    "result": _l("Result"),
    "text": _l("Reply"),
    "days": _l("Extra working days"),
    "reason": _l("Reason"),
    "basis": _l("Basis"),
    "line": _l("Emergency line"),
    "into": _l("Merge into"),
    "articles": _l("Article"),
}


def last_event_id() -> int:
    """The newest push so far: a live page asks for everything after it on connecting,
    so nothing between rendering the page and joining its rooms is missed."""
    return int(db.session.scalar(select(func.max(OutboxItem.id))) or 0)


def message_for(exc: HotlineError) -> str:
    """The refusal in the page's language."""
    return exc.message_zh if str(get_locale()).startswith("zh") else exc.message


def validated(model: Any, body: Mapping[str, Any]) -> Any:
    """`body` checked with one of the JSON API's schemas; an incomplete or invalid form
    is InvalidInput naming its fields by their labels."""
    try:
        return model.model_validate(dict(body))
    except ValidationError as exc:
        names = dict.fromkeys(str(e["loc"][0]) for e in exc.errors() if e["loc"])
        labels = "、".join(str(FIELD_NAMES.get(n, n)) for n in names)
        problem = _("Please check: %(fields)s", fields=labels)
        raise InvalidInput(problem, problem, fields=list(names)) from None


def checked(action: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """`action`'s arguments from a form's `body`, checked with the JSON API's schema."""
    return validated(ACTION_BODIES[action], body).model_dump()  # type: ignore[no-any-return]


def form_body(fields: tuple[str, ...]) -> dict[str, str]:
    """The submitted `fields`, blank ones left out."""
    return {name: value for name in fields if (value := request.form.get(name, "").strip())}


def perform_form(reference: str, action: str, fields: tuple[str, ...]) -> None:
    """Run `action` on the ticket with the submitted `fields` (blank ones left out)."""
    perform(reference, action, current_user, checked(action, form_body(fields)))
