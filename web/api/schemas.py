"""Request bodies of the JSON API. The same models validate input and write the OpenAPI
document, so the document always says what the API really accepts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hotline.models.enums import (
    Channel,
    EmergencyLine,
    RejectReason,
    ReplyResult,
    Satisfaction,
    Solved,
    TicketType,
    Urgency,
)

Text = Field(min_length=1, max_length=4000)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TicketCreate(Body):
    """A new request (受理)."""

    channel: Channel
    type: TicketType
    urgency: Urgency = Urgency.GENERAL
    content: str = Field(min_length=1, max_length=10000)
    title: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=32)
    name: str | None = Field(default=None, max_length=64)
    category: str | None = Field(default=None, max_length=16)
    confidential: bool = False
    anonymous: bool = False
    wants_reply: bool = True
    caller_type: Literal["person", "company"] = "person"
    tags: list[str] = Field(default_factory=list, max_length=20)
    occurred_at_text: str | None = Field(default=None, max_length=100)
    cause: str | None = Field(default=None, max_length=4000)
    course: str | None = Field(default=None, max_length=4000)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    line_dialled: str | None = Field(default=None, max_length=32)


class RoutingSuggestion(BaseModel):
    """One of routing's suggestions as POST /routing/suggest returned it; fields the
    decision does not keep (names, extra detail) are ignored, so a console can send
    the suggestions back exactly as it received them."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    category: str | None = Field(default=None, max_length=16)
    # None: routing found no rule and proposed the hotline office's coordination queue.
    department: str | None = Field(default=None, max_length=32)
    territory: str | None = Field(default=None, max_length=16)
    score: float | None = None
    reasons: list[str] = Field(default_factory=list, max_length=20)


class Dispatch(Body):
    department: str = Field(min_length=1, max_length=32)
    assisting: list[str] = Field(default_factory=list, max_length=10)
    note: str | None = Field(default=None, max_length=4000)
    # The agent may (re)classify and place the ticket as they dispatch it.
    category: str | None = Field(default=None, min_length=1, max_length=16)
    territory: str | None = Field(default=None, min_length=1, max_length=16)
    # What routing showed the agent, best first; omitted: the server asks routing itself.
    suggestions: list[RoutingSuggestion] | None = Field(default=None, max_length=10)


class Sign(Body):
    pass


class SendBack(Body):
    reason: str = Text
    basis: str = Text


class ReviewReturn(Body):
    approve: bool
    department: str | None = Field(default=None, max_length=32)
    note: str | None = Field(default=None, max_length=4000)


class RequestExtension(Body):
    days: int = Field(ge=1, le=60)
    reason: str = Text


class Review(Body):
    approve: bool
    note: str | None = Field(default=None, max_length=4000)


class Contact(Body):
    method: Literal["phone", "sms", "visit", "other"]
    note: str | None = Field(default=None, max_length=4000)


class Reply(Body):
    result: ReplyResult
    text: str = Field(min_length=1, max_length=10000)


class Visit(Body):
    reached: bool
    solved: Solved | None = None
    satisfaction: Satisfaction | None = None
    redo: bool | None = None
    method: Literal["phone", "sms", "ivr", "visit"] = "phone"
    timely_contact: bool | None = None
    note: str | None = Field(default=None, max_length=4000)


class Note(Body):
    note: str = Text


class Merge(Body):
    into: str = Field(min_length=1, max_length=32)


class AnswerDirectly(Body):
    articles: list[str] = Field(default_factory=list, max_length=20)
    text: str = Field(min_length=1, max_length=10000)


class Reject(Body):
    reason: RejectReason
    note: str | None = Field(default=None, max_length=4000)


class HandToEmergency(Body):
    line: EmergencyLine
    note: str | None = Field(default=None, max_length=4000)


class RoutingSuggest(Body):
    """A request to route: its description and whatever says where it happened."""

    text: str = Field(min_length=1, max_length=10000)
    address: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=32)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)


ACTION_BODIES: dict[str, type[Body]] = {
    "dispatch": Dispatch,
    "sign": Sign,
    "send_back": SendBack,
    "review_return": ReviewReturn,
    "request_extension": RequestExtension,
    "review_extension": Review,
    "contact": Contact,
    "note": Note,
    "reply": Reply,
    "review_reply": Review,
    "visit": Visit,
    "urge": Note,
    "supervise": Note,
    "merge": Merge,
    "answer_directly": AnswerDirectly,
    "reject": Reject,
    "hand_to_emergency": HandToEmergency,
}


class IncidentCreate(Body):
    """Group tickets about one event (事件归并) under the parent whose reply answers them."""

    references: list[str] = Field(min_length=1, max_length=500)
    parent: str = Field(min_length=1, max_length=32)
    title: str = Field(min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=4000)


class KbFeedback(Body):
    """A reader's "helpful / not helpful" on a knowledge-base article."""

    helpful: bool
    query: str | None = Field(default=None, max_length=500, description="the question asked")
    comment: str | None = Field(default=None, max_length=1000)
    channel: str | None = Field(
        default=None,
        max_length=12,
        description="hotline|portal|window (or phone, sms, chat, web); default api",
    )
