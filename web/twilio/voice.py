"""Twilio voice webhooks: the one number's menu, the queue, the agents' browser phones.

Views parse the request, call one service and render TwiML; what is said lives in
`hotline.intake.voice_text`, what happens in `hotline.intake.voice`.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request, url_for
from flask_login import current_user
from twilio.twiml.voice_response import VoiceResponse

from hotline.errors import HotlineError, NotAuthenticated
from hotline.intake import voice, voice_agents, voice_reports
from hotline.intake import voice_progress as progress
from hotline.intake import voice_text as say
from hotline.intake.voice import CallPlan, Step
from web.twilio import bp, twilio_webhook, twiml

# -- TwiML pieces -----------------------------------------------------------------------


def _say(parent: Any, text: str) -> None:
    config = current_app.config
    parent.say(text, language=config.get("TWILIO_LANGUAGE", "zh-CN"), voice=config["TWILIO_VOICE"])


def _menu(response: VoiceResponse, step: int, *, again: bool = False, greet: bool = True) -> None:
    action = url_for("twilio.voice_menu", step=step)
    gather = response.gather(
        input="dtmf speech",
        language=current_app.config.get("TWILIO_LANGUAGE", "zh-CN"),
        num_digits=voice.MENU_DIGITS,
        timeout=voice.MENU_TIMEOUT_S,
        speech_timeout="auto",
        hints=say.SPEECH_HINTS,
        action=action,
        method="POST",
    )
    _say(gather, (say.MENU_AGAIN if again else say.WELCOME if greet else "") + say.MENU)
    response.redirect(action, method="POST")  # silence: the menu sends them to an agent


def _enqueue(response: VoiceResponse, *, retried: bool = False) -> None:
    response.enqueue(
        current_app.config["VOICE_QUEUE"],
        wait_url=url_for("twilio.voice_wait"),
        wait_url_method="POST",
        action=url_for("twilio.voice_queue_result", retry=1 if retried else None),
        method="POST",
    )


def _ask_reference(response: VoiceResponse, attempt: int, text: str) -> None:
    action = url_for("twilio.voice_progress", attempt=attempt)
    gather = response.gather(
        input="dtmf",
        finish_on_key="#",
        num_digits=voice.REFERENCE_DIGITS,
        timeout=10,
        action=action,
        method="POST",
    )
    _say(gather, text)
    response.redirect(action, method="POST")


def _emergency(response: VoiceResponse, plan: CallPlan) -> None:
    line = plan.line or "110"
    if plan.transfer_to:
        _say(response, say.emergency_transfer(line))
        response.dial(timeout=30).number(plan.transfer_to)
        _say(response, say.emergency_after_transfer(line))
    else:
        _say(response, say.emergency_tell(line))
    response.hangup()


def _offer_callback(response: VoiceResponse, text: str, *, queued: bool) -> None:
    action = url_for("twilio.voice_callback", queued=None if queued else 0)
    gather = response.gather(input="dtmf", num_digits=1, timeout=5, action=action, method="POST")
    _say(gather, text)


def render(plan: CallPlan) -> VoiceResponse:
    response = VoiceResponse()
    if plan.step == Step.EMERGENCY:
        _emergency(response, plan)
    elif plan.step in (Step.MENU, Step.REPEAT):
        _menu(response, plan.menu_step, again=plan.step == Step.REPEAT)
    elif plan.step == Step.PROGRESS:
        _ask_reference(response, 1, say.ASK_REFERENCE)
    else:
        if plan.hotline_name:
            _say(response, say.legacy_line(plan.hotline_name, plan.hotline_status or ""))
        else:
            _say(response, say.TO_AGENT)
        _enqueue(response)
    return response


# -- the caller's webhooks --------------------------------------------------------------


@bp.post("/voice")
@twilio_webhook
def voice_answer() -> Response:
    plan = voice.answer_call(request.form)
    if plan.step == Step.MENU:
        awaiting = _awaiting_visit(request.form.get("From"))
        if awaiting is not None:  # a rating first (回访), then the menu
            return twiml(_visit_survey(awaiting))
    return twiml(render(plan))


def _caller(raw: str | None) -> str | None:
    from hotline.phones import parse_phone

    return parse_phone(raw or "", current_app.config["DEFAULT_REGION"]).e164


def _awaiting_visit(raw: str | None) -> str | None:
    from hotline.visits import awaiting_visit

    try:
        ticket = awaiting_visit(_caller(raw))
    except Exception:  # the caller is answered whatever the database does
        current_app.logger.exception("visit lookup failed; the menu plays")
        return None
    return ticket.reference if ticket is not None else None


def _visit_survey(reference: str) -> VoiceResponse:
    response = VoiceResponse()
    action = url_for("twilio.voice_visit", ticket=reference)
    gather = response.gather(input="dtmf", num_digits=1, timeout=6, action=action, method="POST")
    _say(gather, say.WELCOME + say.visit_survey(reference))
    _menu(response, 1, greet=False)  # no key: on to the menu
    return response


@bp.post("/voice/visit")
@twilio_webhook
def voice_visit() -> Response:
    """The caller's rating from the keypad; then the menu as usual."""
    from hotline.visits import answer_by_key

    reference = str(request.args.get("ticket", ""))[:32]
    try:
        outcome = answer_by_key(
            reference, _caller(request.form.get("From")), request.form.get("Digits", "")
        )
    except HotlineError:
        outcome = None  # rated already (Twilio's retry) or closed meanwhile
    except Exception:  # the caller goes on to the menu whatever the database does
        current_app.logger.exception("keypad rating of %s not recorded", reference)
        outcome = None
    response = VoiceResponse()
    if outcome == "thanks":
        _say(response, say.VISIT_THANKS)
    elif outcome == "redo":
        _say(response, say.VISIT_REDO)
    _menu(response, 1, greet=False)
    return twiml(response)


@bp.post("/voice/menu")
@twilio_webhook
def voice_menu() -> Response:
    step = request.args.get("step", 1, type=int) or 1
    return twiml(render(voice.choose_from_menu(request.form, step)))


@bp.post("/voice/progress")
@twilio_webhook
def voice_progress() -> Response:
    attempt = request.args.get("attempt", 1, type=int) or 1
    reply = progress.look_up_progress(request.form, attempt)
    response = VoiceResponse()
    if reply.found:
        _say(response, reply.text)
        gather = response.gather(
            input="dtmf", num_digits=1, timeout=5, action=url_for("twilio.voice_menu", step=1)
        )
        _say(gather, say.AFTER_PROGRESS)
        _say(response, say.GOODBYE)
        response.hangup()
    elif reply.give_up:
        _say(response, reply.text)
        _enqueue(response)
    else:
        _ask_reference(response, attempt + 1, reply.text)
    return twiml(response)


@bp.post("/voice/wait")
@twilio_webhook
def voice_wait() -> Response:
    response = VoiceResponse()
    _say(response, voice.wait_announcement(request.form))
    _offer_callback(response, say.OFFER_CALLBACK, queued=True)
    music = current_app.config.get("VOICE_HOLD_MUSIC_URL")
    if music:
        response.play(music)
    else:
        response.pause(length=20)
    return twiml(response)  # Twilio asks again when this ends: the position is re-read


@bp.post("/voice/callback")
@twilio_webhook
def voice_callback() -> Response:
    queued = request.args.get("queued") != "0"
    outcome = voice.request_callback(request.form)
    response = VoiceResponse()
    if outcome == "booked":
        _say(response, say.CALLBACK_BOOKED)
        if queued:
            response.leave()  # back to the <Enqueue>'s action: queue-result "leave"
        else:
            response.hangup()
        return twiml(response)
    if outcome == "no_number":
        _say(response, say.CALLBACK_NO_NUMBER)
    if queued:
        response.redirect(url_for("twilio.voice_wait"), method="POST")
    else:
        _say(response, say.GOODBYE)
        response.hangup()
    return twiml(response)


@bp.post("/voice/queue-result")
@twilio_webhook
def voice_queue_result() -> Response:
    retried = request.args.get("retry") == "1"
    next_step = voice_reports.record_queue_result(request.form, retried)
    response = VoiceResponse()
    if next_step == "thanks":
        _say(response, say.GOODBYE)
        response.hangup()
    elif next_step == "hangup":
        response.hangup()
    elif next_step == "requeue":
        _say(response, say.REQUEUE)
        _enqueue(response, retried=True)
    elif next_step == "busy":
        _offer_callback(response, say.LINES_BUSY, queued=False)
        _say(response, say.GOODBYE)
        response.hangup()
    return twiml(response)


@bp.post("/voice/status")
@twilio_webhook
def voice_status() -> Response:
    voice_reports.record_status(request.form)
    return twiml(VoiceResponse())


# -- the agents' side -------------------------------------------------------------------


@bp.post("/voice/agent")
@twilio_webhook
def voice_agent() -> Response:
    """The TwiML App's voice URL: an agent's browser phone takes the next caller."""
    agent = voice_agents.agent_from(request.form.get("From"))
    response = VoiceResponse()
    if agent is None:
        _say(response, say.AGENT_REFUSED)
        response.hangup()
        return twiml(response)
    record = current_app.config.get("VOICE_RECORD_CALLS", True)
    dial = response.dial(
        record="record-from-answer-dual" if record else None,
        recording_status_callback=url_for("twilio.voice_recording") if record else None,
        recording_status_callback_method="POST" if record else None,
    )
    dial.queue(
        current_app.config["VOICE_QUEUE"],
        url=url_for("twilio.voice_dequeued", agent=agent.id),
        method="POST",
    )
    return twiml(response)


@bp.post("/voice/dequeued")
@twilio_webhook
def voice_dequeued() -> Response:
    """Played to the caller as an agent takes them (the <Queue url>)."""
    voice_reports.record_dequeue(request.form, request.args.get("agent"))
    response = VoiceResponse()
    _say(response, say.CONNECTED)
    return twiml(response)


@bp.post("/voice/recording")
@twilio_webhook
def voice_recording() -> Response:
    voice_reports.record_recording(request.form)
    return twiml(VoiceResponse())


@bp.get("/voice/token")
def voice_token() -> tuple[Response, int]:
    """A Voice SDK token for the signed-in agent's browser phone (JSON)."""
    try:
        if not current_user.is_authenticated:
            raise NotAuthenticated("sign in first", "请先登录")
        body, status = voice_agents.voice_token(current_user._get_current_object()), 200
    except HotlineError as exc:
        body, status = {"error": exc.to_dict()}, exc.status
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, status
