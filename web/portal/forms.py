"""The intake forms: the online hall's request and tracking forms, the window's one form."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import current_app
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from hotline.errors import HotlineError
from hotline.intake.uploads import Upload
from hotline.models import TicketType, Urgency
from hotline.phones import parse_phone
from hotline.tickets.service import NewTicket

MAX_CONTENT = 4000
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,43}")
# Service fields named in HotlineError details -> form fields.
FIELD_FOR = {
    "type": "request_type",
    "urgency": "urgency",
    "content": "content",
    "phone": "phone",
    "category": "category",
    "attachments": "attachments",
}


def _choices(values: type[TicketType] | type[Urgency]) -> list[SelectChoice]:
    # The stored codes are msgids of their own ("consult" -> 咨询), so one lookup serves both.
    return [SelectChoice(value.value, _l(value.value)) for value in values]


def new_submission_token() -> str:
    """An idempotency token for one rendering of a form: a double submit makes one ticket."""
    return secrets.token_urlsafe(16)


class RequestForm(FlaskForm):
    """我要反映: a citizen's request in the online hall."""

    submission = HiddenField(validators=[Optional(), Regexp(TOKEN)])
    request_type = SelectField(
        _l("Type of request"),
        choices=_choices(TicketType),
        default=TicketType.CONSULT.value,
        validators=[DataRequired(message=_l("Please choose the type of your request."))],
    )
    content = TextAreaField(
        _l("Your request"),
        validators=[
            DataRequired(message=_l("Please describe your request.")),
            Length(
                max=MAX_CONTENT,
                message=_l(
                    "The description is too long: at most %(max)d characters.", max=MAX_CONTENT
                ),
            ),
        ],
    )
    address = StringField(
        _l("Address"),
        validators=[
            Optional(),
            Length(max=300, message=_l("The address is too long: at most 300 characters.")),
        ],
    )
    phone = StringField(_l("Phone"))
    name = StringField(
        _l("Your name"),
        validators=[
            Optional(),
            Length(max=64, message=_l("The name is too long: at most 64 characters.")),
        ],
    )
    confidential = BooleanField(_l("Keep my identity confidential"))
    wants_reply = BooleanField(_l("I want a reply"), default=True)
    attachments = MultipleFileField(_l("Attachments"))

    channel = "web"

    def validate_phone(self, field: StringField) -> None:
        raw = (field.data or "").strip()
        if not raw:
            if self.wants_reply.data:
                raise ValidationError(_l("Please give a phone number so that we can reply."))
            return
        if len(raw) > 32:
            raise ValidationError(_l("This phone number is too long."))
        info = parse_phone(raw, current_app.config["DEFAULT_REGION"])
        if info.kind == "short":
            raise ValidationError(
                _l(
                    "%(number)s is a service number, not your own phone. "
                    "In an emergency call 110, 119, 120 or 122 directly.",
                    number=raw,
                )
            )
        if not info.valid:
            raise ValidationError(
                _l(
                    "This phone number is not valid: enter a mobile number (like 13800138000) "
                    "or a landline with its area code (like 0750-3500000)."
                )
            )

    def prepare(self) -> None:
        """Give a fresh rendering its idempotency token."""
        if not self.submission.data:
            self.submission.data = new_submission_token()

    def new_ticket(self) -> NewTicket:
        token = self.submission.data
        return NewTicket(
            channel=self.channel,
            type=self.request_type.data,
            urgency=Urgency.GENERAL.value,
            content=(self.content.data or "").strip(),
            address=_text(self.address.data),
            phone=_text(self.phone.data),
            name=_text(self.name.data),
            confidential=bool(self.confidential.data),
            wants_reply=bool(self.wants_reply.data),
            external_id=f"{self.channel}:{token}" if token else None,
        )

    def uploads(self) -> list[Upload]:
        """The chosen files; an empty file input still sends one nameless part, dropped."""
        return [
            Upload(storage.filename or "", storage.stream)
            for storage in self.attachments.data or []
            if storage is not None and storage.filename
        ]


class WindowForm(RequestForm):
    """一表填报: a request taken at a physical service window by a clerk."""

    urgency = SelectField(
        _l("Urgency"),
        choices=_choices(Urgency),
        default=Urgency.GENERAL.value,
        validators=[DataRequired(message=_l("Please choose the urgency."))],
    )
    category = SelectField(_l("Category"), choices=[], validate_choice=True)
    caller_type = RadioField(
        _l("Requester type"),
        choices=[
            SelectChoice("person", _l("Person")),
            SelectChoice("company", _l("Company or organisation")),
        ],
        default="person",
        validators=[DataRequired(message=_l("Please say who is asking."))],
    )

    channel = "window"

    def set_categories(self, categories: list[tuple[str, str, str]]) -> None:
        """Second-level categories as (code, name, first-level name), grouped by the latter."""
        self.category.choices = [
            SelectChoice("", _l("Not classified yet (the dispatcher decides)"))
        ] + [SelectChoice(code, name, optgroup=group) for code, name, group in categories]

    def new_ticket(self) -> NewTicket:
        new = super().new_ticket()
        new.urgency = self.urgency.data
        new.category = self.category.data or None
        new.caller_type = self.caller_type.data
        return new


class TrackForm(FlaskForm):
    """进度查询: the reference and the last four digits of the phone given with it."""

    reference = StringField(
        _l("Ticket reference"),
        validators=[
            DataRequired(message=_l("Please enter the ticket reference.")),
            Regexp(
                r"^\s*[0-9A-Za-z-]{6,32}\s*$",
                message=_l("A ticket reference is made of digits, like 44070020261127000001."),
            ),
        ],
    )
    last4 = StringField(
        _l("Last 4 digits of your phone"),
        validators=[
            DataRequired(message=_l("Please enter the last 4 digits of your phone.")),
            Regexp(r"^\s*\d{4}\s*$", message=_l("Enter exactly 4 digits.")),
        ],
    )


def refuse(form: FlaskForm, exc: HotlineError) -> None:
    """Show a service's refusal next to the field it names (both languages are carried)."""
    locale = get_locale()
    english = locale is not None and locale.language == "en"
    problems = exc.details.get("problems") or [
        {"message": exc.message, "message_zh": exc.message_zh}
    ]
    target = getattr(form, FIELD_FOR.get(str(exc.details.get("field")), ""), None)
    errors = list(target.errors) if target is not None else form.form_errors
    for problem in problems:
        errors.append(problem["message"] if english else problem["message_zh"])
    if target is not None:
        target.errors = errors


def upload_limits() -> dict[str, Any]:
    """The attachment limits the forms state (UPLOAD_MAX_FILES, UPLOAD_MAX_BYTES)."""
    config = current_app.config
    return {
        "max_files": config.get("UPLOAD_MAX_FILES", 5),
        "max_mb": _megabytes(config.get("UPLOAD_MAX_BYTES", 10 * 1024 * 1024)),
    }


def too_large_message() -> str:
    """What a 413 (over MAX_CONTENT_LENGTH) tells the person who sent it."""
    return gettext(
        "All attachments together may not exceed %(total)s MB, and each file %(each)s MB. "
        "Please choose smaller files (for photos, a lower resolution) and submit again.",
        total=_megabytes(current_app.config.get("MAX_CONTENT_LENGTH") or 0),
        each=upload_limits()["max_mb"],
    )


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g}"


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None
