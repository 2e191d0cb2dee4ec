"""The follow-up visit by SMS (短信回访): after a reply is approved the citizen is asked,
by text, whether they are satisfied and whether the problem was solved; their answer
closes the ticket or sends it back to the unit (重办). No answer within
VISIT_SURVEY_WAIT counts as an unreachable attempt and the survey goes again, until
VISIT_MAX_ATTEMPTS attempts close the ticket as unreachable (the lifecycle's rule).

The deadline sweep calls `sweep_visits` each round; the SMS webhook gives every text
from a number with a survey outstanding to `answer_survey` first.

Answers are read leniently: "1" / "满意" / "非常满意", "2" / "基本满意", "3" / "不满意";
"Y" / "是" / "已解决" / "解决了", "N" / "否" / "没解决" / "未解决", "部分解决". With only
the satisfaction given, a dissatisfied answer counts as unsolved and the others as
solved; with only "没解决" the citizen is taken as dissatisfied (the ticket is redone,
the safe side).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import exists, select

from hotline import messaging, privacy
from hotline.extensions import db
from hotline.models import Contact, DeadlineAlert, Message, Ticket, utcnow
from hotline.models.enums import MessageStatus, Satisfaction, Solved, TicketStatus
from hotline.outbox import notify_on_commit
from hotline.tickets.common import record

log = logging.getLogger(__name__)

BATCH = 500
SURVEY_KIND = "visit_survey"
BY_PHONE = "visit_by_phone"  # no SMS possible: the centre visits by phone
# Longest first: 不满意 before 满意, 没有解决 before 解决.
# "不满意", "不太满意", "不是很满意", "很不满意", "不怎么满意": a negation before 满意.
_NOT_SATISFIED = re.compile(r"不.{0,2}满意|没.{0,2}满意")
_SATISFACTION_WORDS = (
    ("基本满意", Satisfaction.BASIC),
    ("一般", Satisfaction.BASIC),
    ("非常满意", Satisfaction.SATISFIED),
    ("满意", Satisfaction.SATISFIED),
)
_SOLVED_WORDS = (
    ("没有解决", Solved.UNSOLVED),
    ("没解决", Solved.UNSOLVED),
    ("未解决", Solved.UNSOLVED),
    ("不解决", Solved.UNSOLVED),
    ("部分解决", Solved.PARTLY),
    ("已解决", Solved.SOLVED),
    ("解决了", Solved.SOLVED),
    ("已经解决", Solved.SOLVED),
)
_DIGITS = {"1": Satisfaction.SATISFIED, "2": Satisfaction.BASIC, "3": Satisfaction.DISSATISFIED}
_LETTERS = {"Y": Solved.SOLVED, "是": Solved.SOLVED, "N": Solved.UNSOLVED, "否": Solved.UNSOLVED}


# Words around an answer that say nothing more ("满意，谢谢").
_FILLER = re.compile(r"谢谢|感谢|您好|你好|的|了|啊|吧|呢|哦")
# More than this many other characters: a message, not an answer ("还有2个问题没处理"
# is no rating 2); with the answer in words a short comment may follow it.
MAX_COMMENT = 10
MAX_KEYED_COMMENT = 3


@dataclass(frozen=True)
class Answer:
    satisfaction: str
    solved: str


def read_answer(text: str) -> Answer | None:
    """The citizen's answer to the survey, or None when the text is not one (it says
    neither, or says much else: a new complaint goes on as a message, not a rating)."""
    rest = unicodedata.normalize("NFKC", text or "").upper()
    rest = re.sub(r"[\s,，.。!！;；、:：\"“”'()（）]+", "", rest)
    satisfaction = solved = None
    for word, value in _SOLVED_WORDS:
        if word in rest:
            solved, rest = value, rest.replace(word, "", 1)
            break
    negated = _NOT_SATISFIED.search(rest)
    if negated:
        satisfaction, rest = Satisfaction.DISSATISFIED, rest.replace(negated.group(), "", 1)
    for word, value in _SATISFACTION_WORDS:
        if satisfaction is None and word in rest:
            satisfaction, rest = value, rest.replace(word, "", 1)
            break
    keyed = False  # a bare digit or letter answers only a short text ("1Y", "3 谢谢")
    if satisfaction is None:
        digit = re.search(r"(?<!\d)[123](?!\d)", rest)
        if digit:
            satisfaction, keyed = _DIGITS[digit.group()], True
            rest = rest[: digit.start()] + rest[digit.end() :]
    if solved is None:
        letter = re.search(r"(?<![A-Z])[YN](?![A-Z])", rest)
        if letter:
            solved, keyed = _LETTERS[letter.group()], True
            rest = rest[: letter.start()] + rest[letter.end() :]
        elif rest in ("是", "否"):
            solved, rest = _LETTERS[rest], ""
    leftover = re.sub(_FILLER, "", rest)
    if (satisfaction is None and solved is None) or len(leftover) > (
        MAX_KEYED_COMMENT if keyed else MAX_COMMENT
    ):
        return None
    if satisfaction is None:
        satisfaction = (
            Satisfaction.DISSATISFIED if solved == Solved.UNSOLVED else Satisfaction.SATISFIED
        )
    if solved is None:
        solved = Solved.UNSOLVED if satisfaction == Satisfaction.DISSATISFIED else Solved.SOLVED
    return Answer(str(satisfaction), str(solved))


def _awaiting(phone_e164: str | None, *where: Any, newest: Any) -> Ticket | None:
    """The phone's latest ticket (by `newest`) waiting for its follow-up visit."""
    if not phone_e164:
        return None
    return db.session.scalar(
        select(Ticket)
        .join(Contact, Ticket.contact_id == Contact.id)
        .where(
            Contact.phone_hash == privacy.lookup_hash(phone_e164),
            Ticket.status == TicketStatus.PENDING_VISIT,
            *where,
        )
        .order_by(newest.desc(), Ticket.id.desc())
        .limit(1)
    )


def surveyed_ticket(phone_e164: str | None) -> Ticket | None:
    """The sender's ticket whose SMS survey awaits an answer (the latest), if any."""
    return _awaiting(phone_e164, Ticket.visit_survey_at.is_not(None), newest=Ticket.visit_survey_at)


def answer_survey(ticket: Ticket, text: str) -> tuple[str, Answer]:
    """Apply the citizen's answer to the survey of `ticket`; returns (the reply template,
    the answer read). The caller checked that `text` is an answer (read_answer)."""
    from hotline.tickets.closing import visit_ticket

    answer = read_answer(text)
    if answer is None:
        raise ValueError("not an answer to the survey")
    visited = visit_ticket(
        ticket.reference,
        None,
        reached=True,
        solved=answer.solved,
        satisfaction=answer.satisfaction,
        method="sms",
        note=text[:500],
    )
    log.info("ticket %s: SMS survey answered (%s)", ticket.reference, answer.satisfaction)
    return ("visit_redo" if visited.status == TicketStatus.IN_PROGRESS else "visit_thanks"), answer


def _send_survey(ticket_id: int, now: datetime) -> bool:
    ticket = db.session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    if (
        ticket is None
        or ticket.status != TicketStatus.PENDING_VISIT
        or ticket.visit_survey_at is not None
    ):
        db.session.rollback()
        return False
    message = messaging.notify_ticket(ticket, SURVEY_KIND)
    if message is None:  # no mobile, anonymous, no reply wanted, opted out: an agent calls
        _by_phone(ticket, now, "无法短信回访，请电话回访")
        db.session.commit()
        return False
    ticket.visit_survey_at = now
    record(ticket, SURVEY_KIND, None, attempt=ticket.visit_attempts + 1, message_id=message.id)
    db.session.commit()
    return True


def _give_up(ticket_id: int, now: datetime) -> bool:
    from hotline.tickets.closing import visit_ticket

    ticket = db.session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    if (
        ticket is None
        or ticket.status != TicketStatus.PENDING_VISIT
        or ticket.visit_survey_at is None
        or _answer_due(ticket.visit_survey_at) > now
    ):
        db.session.rollback()
        return False
    survey_status = db.session.scalar(
        select(Message.status)
        .where(Message.ticket_id == ticket.id, Message.kind == SURVEY_KIND)
        .order_by(Message.id.desc())
        .limit(1)
    )
    if survey_status not in (MessageStatus.SENT, MessageStatus.DELIVERED):
        # Never reached the citizen (held without credentials, failed, opted out): their
        # silence says nothing. The centre visits by phone instead.
        ticket.visit_survey_at = None
        _by_phone(ticket, now, "短信回访未能发出，请电话回访")
        db.session.commit()
        return False
    visit_ticket(ticket.reference, None, reached=False, method="sms", note="短信回访未获回复")
    return True


def _by_phone(ticket: Ticket, now: datetime, note: str) -> None:
    """Flag the ticket for a visit by phone, once per visit round (its visit_due_at)."""
    from hotline.sweeps import claim

    if claim(ticket, BY_PHONE, ticket.visit_due_at or now):
        record(ticket, BY_PHONE, None, note=note)
        notify_on_commit("visit.by_phone", {"reference": ticket.reference}, rooms=["office"])


def _answer_due(sent_at: datetime) -> datetime:
    """Until when the citizen may answer a survey sent at `sent_at` (VISIT_SURVEY_WAIT,
    counted like every other limit: a day limit ends with its last working day)."""
    from hotline.clock.service import deadline_for

    return deadline_for(sent_at, current_app.config["VISIT_SURVEY_WAIT"]).at


def sweep_visits(now: datetime | None = None) -> dict[str, int]:
    """Send the surveys due, and count the unanswered ones as unreachable attempts."""
    now = now or utcnow()
    # Pending visits are few (a day or two of replies): their answer times are worked
    # out one by one, oldest survey first.
    outstanding = db.session.execute(
        select(Ticket.id, Ticket.visit_survey_at)
        .where(Ticket.status == TicketStatus.PENDING_VISIT, Ticket.visit_survey_at.is_not(None))
        .order_by(Ticket.visit_survey_at)
        .limit(BATCH)
    ).all()
    db.session.rollback()
    unanswered = [ticket_id for ticket_id, sent in outstanding if _answer_due(sent) <= now]
    gave_up = sum(_give_up(ticket_id, now) for ticket_id in unanswered)
    by_phone = exists().where(  # flagged for a phone visit in this round already
        DeadlineAlert.ticket_id == Ticket.id,
        DeadlineAlert.kind == BY_PHONE,
        DeadlineAlert.deadline == Ticket.visit_due_at,
    )
    due = db.session.scalars(
        select(Ticket.id)
        .where(
            Ticket.status == TicketStatus.PENDING_VISIT,
            Ticket.visit_survey_at.is_(None),
            Ticket.anonymous.is_(False),
            Ticket.wants_reply.is_(True),
            ~by_phone,
        )
        .order_by(Ticket.id)
        .limit(BATCH)
    ).all()
    db.session.rollback()
    sent = sum(_send_survey(ticket_id, now) for ticket_id in due)
    return {"visit_survey": sent, "visit_unanswered": gave_up}


def survey_reply(ticket: Ticket, inbound: Message) -> str | None:
    """The reply already given to the survey answer `inbound` (for Twilio's retries)."""
    return db.session.scalar(
        select(Message.body)
        .where(
            Message.ticket_id == ticket.id,
            Message.kind == "survey_reply",
            Message.id > inbound.id,
        )
        .order_by(Message.id)
        .limit(1)
    )


# -- by keypad, when the citizen calls the hotline --------------------------------------

KEYS = {"1": Satisfaction.SATISFIED, "2": Satisfaction.BASIC, "3": Satisfaction.DISSATISFIED}


def awaiting_visit(phone_e164: str | None) -> Ticket | None:
    """The caller's latest ticket that awaits its follow-up visit (SMS survey sent or
    not: a landline caller is rated this way too)."""
    return _awaiting(phone_e164, newest=Ticket.replied_at)


def answer_by_key(reference: str, phone_e164: str | None, digit: str) -> str | None:
    """Rate the caller's own ticket from the keypad; returns "thanks" or "redo", or None
    when the key is no rating or the ticket is not theirs or no longer awaits a visit."""
    from hotline.tickets.closing import visit_ticket

    satisfaction = KEYS.get((digit or "").strip()[:1])
    ticket = awaiting_visit(phone_e164)
    if satisfaction is None or ticket is None or ticket.reference != reference:
        return None
    solved = Solved.UNSOLVED if satisfaction == Satisfaction.DISSATISFIED else Solved.SOLVED
    visited = visit_ticket(
        reference,
        None,
        reached=True,
        solved=solved,
        satisfaction=satisfaction,
        method="ivr",
        note=f"来电按键评价：{digit[:1]}",
    )
    return "redo" if visited.status == TicketStatus.IN_PROGRESS else "thanks"
