"""Twilio SMS webhooks: an inbound text (TwiML reply) and delivery reports."""

from __future__ import annotations

from flask import Response, request
from twilio.twiml.messaging_response import MessagingResponse

from hotline.intake import sms
from web.twilio import bp, twilio_webhook, twiml


@bp.post("/sms")
@twilio_webhook
def receive_sms() -> Response:
    """Store and process the text, answer with the reference or a receipt (no REST call)."""
    reply = sms.receive(request.form.to_dict())
    answer = MessagingResponse()
    answer.message(reply)
    return twiml(answer)


@bp.post("/sms/status")
@twilio_webhook
def record_sms_status() -> Response:
    """Record sent / delivered / failed for an outbound SMS."""
    sms.record_status(request.form.to_dict())
    return twiml(MessagingResponse())
