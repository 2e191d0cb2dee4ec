"""`hotline calls ring`: put a practice call through to an agent, for training and for
trying the console without a telephone line. The call travels the same path as one from
Twilio (the voice webhook's processing, then the dequeue report naming the agent), so
the agent's console opens the screen pop exactly as for a real caller. Practice calls
are marked (`data.practice`) so that call-centre figures can leave them out."""

from __future__ import annotations

import secrets

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from hotline.extensions import db
from hotline.intake import voice, voice_reports
from hotline.intake.voice import merge_data
from hotline.intake.voice_agents import AGENT_ROLES
from hotline.models import CallRecord, User
from hotline.phones import parse_phone


@click.group("calls")
def calls_cli() -> None:
    """Calls: practice calls for training and demonstrations."""


@calls_cli.command("ring")
@click.option("--caller", required=True, help="the caller's number, e.g. 13800138000")
@click.option("--agent", "username", required=True, help="the agent who answers")
@click.option("--line", default=None, help="the legacy number it came through, e.g. 12315")
@with_appcontext
def ring_command(caller: str, username: str, line: str | None) -> None:
    """Put a practice call from CALLER through to AGENT's console (the screen pop)."""
    agent = db.session.scalar(select(User).where(User.username == username))
    if agent is None or not agent.active or not agent.has_role(*AGENT_ROLES):
        raise click.UsageError(f"{username!r} is not an active agent, dispatcher or admin")
    number = parse_phone(caller, current_app.config["DEFAULT_REGION"]).e164
    if number is None:
        raise click.UsageError(f"{caller!r} is not a valid phone number")
    sid = "CA" + secrets.token_hex(16)
    form = {
        "CallSid": sid,
        "From": number,
        "To": current_app.config.get("TWILIO_NUMBER") or "12345",
        "CallStatus": "ringing",
        **({"ForwardedFrom": line} if line else {}),
    }
    voice.answer_call(form)
    call = db.session.scalar(select(CallRecord).where(CallRecord.call_sid == sid))
    if call is None:
        raise click.ClickException("the call could not be stored; see the log")
    merge_data(call, practice=True)
    db.session.commit()
    voice_reports.record_dequeue({**form, "QueueTime": "0"}, str(agent.id))
    click.echo(f"practice call {sid} from {number} put through to {username}")
    click.echo(f"screen pop: /console/calls/{sid}")
