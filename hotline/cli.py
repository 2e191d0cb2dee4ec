"""The `hotline` command (a Flask CLI group: `flask --app wsgi …` works the same)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext

from hotline.errors import HotlineError


def _create_app() -> Flask:
    from hotline import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """12345 Hotline administration."""


def fail(exc: HotlineError) -> None:
    """Print every problem of a refused operation and exit non-zero."""
    click.secho(f"{exc.message}\n{exc.message_zh}", fg="red", err=True)
    for problem in exc.details.get("problems", []):
        click.echo(f"  - {problem}", err=True)
    raise SystemExit(1)


users_cli = click.Group("users", help="Manage users and API tokens.")


@users_cli.command("add")
@click.argument("name")
@click.option("--role", required=True, help="agent|dispatcher|handler|supervisor|admin|editor")
@click.option("--department", "department_code", help="unit code (required for handlers)")
@click.option("--password", help="password for the web pages (omit for API-only users)")
@click.option("--ask-password", is_flag=True, help="prompt for the password (kept out of history)")
@click.option("--display-name", help="name shown in the UI")
@with_appcontext
def users_add(
    name: str,
    role: str,
    department_code: str | None,
    password: str | None,
    ask_password: bool,
    display_name: str | None,
) -> None:
    from hotline.auth import add_user

    if ask_password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)

    try:
        user = add_user(
            name,
            role,
            department_code=department_code,
            password=password,
            display_name=display_name,
        )
    except HotlineError as exc:
        fail(exc)
    click.echo(f"user {user.username} ({user.role}) created")


@users_cli.command("token")
@click.argument("name")
@with_appcontext
def users_token(name: str) -> None:
    """Print a new API bearer token for NAME."""
    from hotline.auth import issue_token

    try:
        click.echo(issue_token(name))
    except HotlineError as exc:
        fail(exc)


audit_cli = click.Group("audit", help="The tamper-evident event log.")


@audit_cli.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Recompute the hash chain over every event."""
    from hotline.audit import verify_chain

    report = verify_chain()
    if report.ok:
        click.echo(f"event log intact: {report.checked} events verified")
        return
    click.secho(
        f"event log BROKEN at event {report.broken_at}: {report.reason}", fg="red", err=True
    )
    raise SystemExit(1)


outbox_cli = click.Group("outbox", help="The transactional outbox and held messages.")


@outbox_cli.command("relay")
@with_appcontext
def outbox_relay() -> None:
    """Hand pending outbox rows to Redis once."""
    from hotline.outbox import relay_pending

    click.echo(f"relayed {relay_pending()} item(s)")


@outbox_cli.command("resend-held")
@with_appcontext
def outbox_resend_held() -> None:
    """Queue again the SMS held while no Twilio credentials were configured."""
    from hotline.sms_sending import resend_held

    click.echo(f"queued {resend_held()} held message(s) again")


@outbox_cli.command("replay")
@with_appcontext
def outbox_replay() -> None:
    """Finish stored inbound requests (webhooks, forms) whose processing never completed."""
    from datetime import timedelta

    from hotline.intake.raw import replay_unprocessed

    click.echo(f"finished {replay_unprocessed(older_than=timedelta(0))} stored request(s)")


def register_app_commands(app: Flask) -> None:
    from hotline.clock.cli import calendar_cli
    from hotline.demo import demo_command
    from hotline.intake.calls_cli import calls_cli
    from hotline.intake.lines_cli import lines_command
    from hotline.runner import serve_command, worker_command
    from knowledge_base.cli import kb_cli
    from routing.cli import catalogue_cli, routing_cli

    for command in (
        users_cli,
        audit_cli,
        outbox_cli,
        calendar_cli,
        catalogue_cli,
        routing_cli,
        kb_cli,
        demo_command,
        lines_command,
        calls_cli,
        serve_command,
        worker_command,
    ):
        app.cli.add_command(command)
