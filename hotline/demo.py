"""`hotline demo`: the demo city — Jiangmen's catalogue, a user per role, 90 days of history.

History is made by the real services under a simulated clock, so every ticket,
event, deadline and hash in the demo is exactly what the product would have written.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select, update

from hotline.auth import add_user, hash_password
from hotline.demo_data import DEMO_PASSWORD, DEMO_USERS, DISTRICT_ADDRESSES, NAMES, REQUESTS
from hotline.extensions import db
from hotline.models import Department, Message, OutboxItem, Role, User, utcnow
from hotline.models.base import simulated_now
from hotline.tickets import service

CATALOGUE = Path(__file__).resolve().parent.parent / "routing" / "data" / "jiangmen_catalogue.yaml"
DEMO_KNOWLEDGE_BASE = (
    Path(__file__).resolve().parent.parent / "knowledge_base" / "data" / "demo_kb.yaml"
)
HISTORY_DAYS = 90


@dataclass
class Actors:
    agent: User
    dispatcher: User
    supervisor: User
    handlers: dict[str, User]


def demo_loaded() -> bool:
    return db.session.scalar(select(User).where(User.username == "agent1")) is not None


def load_demo(tickets: int = 300, seed: int = 12345) -> dict[str, int]:
    """Load the demo city once; returns counts. Idempotent: a second call does nothing."""
    from routing.catalogue import import_catalogue

    if demo_loaded():
        return {}
    durability = current_app.config.get("SQLITE_SYNCHRONOUS", "FULL")
    relay = current_app.config.get("OUTBOX_RELAY_ON_COMMIT", True)
    _reconnect(synchronous="OFF")  # thousands of commits of regenerable data: no fsyncs
    current_app.config["OUTBOX_RELAY_ON_COMMIT"] = False  # history is not news: no pushes
    try:
        import_catalogue(CATALOGUE, imported_by="demo")
        _load_knowledge_base()
        for username, display, role, unit in DEMO_USERS:
            add_user(username, role, display_name=display, department_code=unit)
        actors = _actors()
        # One Argon2 hash for the shared demo password: hashing per user takes most a minute.
        shared_hash = hash_password(DEMO_PASSWORD)
        for user in db.session.scalars(select(User)):
            user.password_hash = shared_hash
        db.session.commit()
        made = _history(actors, tickets, random.Random(seed))
        db.session.execute(
            update(OutboxItem).where(OutboxItem.relayed_at.is_(None)).values(relayed_at=utcnow())
        )
        # History's citizen SMS went out at the time; none is sent again now.
        db.session.execute(
            update(Message)
            .where(Message.direction == "outbound", Message.status == "queued")
            .values(status="sent", sent_at=Message.at)
        )
        db.session.commit()
        users = len(DEMO_USERS) + len(actors.handlers)
    finally:
        current_app.config["OUTBOX_RELAY_ON_COMMIT"] = relay
        _reconnect(synchronous=durability)
    return {"users": users, "tickets": made}


def _reconnect(synchronous: str) -> None:
    """SQLite: new connections get this fsync level (the pool is emptied to apply it)."""
    if db.engine.dialect.name != "sqlite":
        return
    current_app.config["SQLITE_SYNCHRONOUS"] = synchronous
    db.session.remove()
    db.engine.dispose()


def _load_knowledge_base() -> None:
    """The demo knowledge base and search synonyms, as a city would import them."""
    from knowledge_base.io import import_knowledge_base
    from knowledge_base.synonyms import DEFAULT_FILE, load_file, replace_synonyms

    replace_synonyms(load_file(DEFAULT_FILE), actor=None)
    import_knowledge_base(DEMO_KNOWLEDGE_BASE)


def _actors() -> Actors:
    def user(name: str) -> User:
        return db.session.scalar(select(User).where(User.username == name))  # type: ignore[return-value]

    handlers = {
        u.department.code: u
        for u in db.session.scalars(select(User).where(User.role == Role.HANDLER))
        if u.department is not None
    }
    # Every unit that receives demo tickets gets a handler account of its own.
    for unit in db.session.scalars(select(Department).where(Department.active.is_(True))):
        if unit.code not in handlers:
            handlers[unit.code] = add_user(
                f"h_{unit.code.lower()}",
                "handler",
                display_name=f"{unit.short_name} 承办人",
                department_code=unit.code,
            )
    return Actors(user("agent1"), user("dispatcher1"), user("supervisor1"), handlers)


def _target_unit(category: str, rng: random.Random) -> tuple[str, str]:
    """(unit code, address) by the catalogue's rule: vertical unit or the district (属地)."""
    from routing.catalogue import rule_for

    rule = rule_for(category)
    district = rng.choice(sorted(DISTRICT_ADDRESSES))
    address = rng.choice(DISTRICT_ADDRESSES[district])
    if rule is not None and rule.mode == "territorial":
        return district, address
    return (rule.department.code if rule is not None else "ZSJ"), address


def _history(actors: Actors, count: int, rng: random.Random) -> int:
    now = utcnow()
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    made = 0
    fresh = max(3, count // 25)  # the newest few arrived in the last hours: still unsigned
    for index in range(count):
        if index < count - fresh:
            age_days = HISTORY_DAYS * (count - index) / count
            local = (now - timedelta(days=age_days)).astimezone(tz)
            received = local.replace(hour=rng.randint(8, 21), minute=rng.randint(0, 59), second=0)
            if received >= now:
                received = now - timedelta(minutes=rng.randint(30, 600))
        else:  # minutes ago, whatever the time of day: these stay waiting to be signed
            received = now - timedelta(minutes=rng.randint(5, 150))
        _one_ticket(actors, rng, received, now)
        made += 1
    return made


def _one_ticket(actors: Actors, rng: random.Random, received: datetime, now: datetime) -> None:
    category, kind, urgency, title, content = rng.choice(REQUESTS)
    unit, address = _target_unit(category, rng)
    clock = received
    confidential = rng.random() < 0.08

    def at(hours: float) -> datetime:
        nonlocal clock
        clock = min(clock + timedelta(hours=hours), now - timedelta(minutes=1))
        return clock

    with simulated_now(received):
        ticket, _ = service.open_ticket(
            service.NewTicket(
                channel=rng.choice(["phone"] * 6 + ["sms", "web", "window", "chat"]),
                type=kind,
                urgency=urgency,
                title=title,
                content=content,
                address=address,
                phone=f"+86139{rng.randint(10000000, 99999999)}",
                name=rng.choice(NAMES),
                category=category,
                confidential=confidential,
            ),
            actors.agent,
        )
    ref = ticket.reference
    age_hours = (now - received).total_seconds() / 3600
    draw = rng.random()

    def act(action: str, user: User, hours: float, **args: object) -> None:
        with simulated_now(at(hours)):
            service.perform(ref, action, user, dict(args))

    if kind == "consult" and draw < 0.5:
        from knowledge_base.search import search

        found = search(content, channel="hotline", limit=1).hits
        articles = [found[0].article.key] if found else []
        text = found[0].snippet if found else "已根据知识库口径答复来电人。"
        act("answer_directly", actors.agent, 0.1, articles=articles, text=text)
        return
    if draw < 0.03:
        act("reject", actors.agent, 0.1, reason="out_of_jurisdiction", note="不属于本市管辖范围")
        return
    lead = actors.handlers[unit]
    act(
        "dispatch",
        actors.dispatcher if rng.random() < 0.3 else actors.agent,
        0.2,
        department=unit,
        assisting=[],
        note=None,
    )
    if age_hours < 3:
        return
    if rng.random() < 0.06 and unit != "ZSJ":
        act("send_back", lead, 1, reason="该事项不属于本单位职责", basis="依据部门三定方案")
        if age_hours < 8:
            return
        approve = rng.random() < 0.6
        other = "ZSJ" if unit != "ZSJ" else "CGJ"
        act(
            "review_return",
            actors.dispatcher,
            2,
            approve=approve,
            department=other if approve else None,
            note="审核退单",
        )
        if approve:
            lead = actors.handlers[other]
    act("sign", lead, 1.5 if rng.random() < 0.85 else 30)
    if age_hours < 24:
        return
    if rng.random() < 0.8:
        act("contact", lead, 4, method="phone", note="已电话联系来电人了解情况")
    if rng.random() < 0.07 and age_hours > 72:
        act("request_extension", lead, 24, days=5, reason="需协调多个部门现场核查")
        act("review_extension", actors.dispatcher, 3, approve=True, note="同意延期")
    if age_hours < 24 * 8 and rng.random() < 0.75:
        return  # still being handled
    if rng.random() < 0.1 and age_hours > 24 * 6:
        act("urge", actors.supervisor, 24, note="请加快办理进度")
    result = rng.choice(["solved"] * 6 + ["partly", "explained", "unsolved"])
    act(
        "reply",
        lead,
        rng.uniform(24, 24 * 9),
        result=result,
        text="经核查，已按规定处理并向来电人说明情况。",
    )
    if age_hours < 24 * 7:
        return
    act("review_reply", actors.dispatcher, 3, approve=True, note=None)
    if rng.random() < 0.1:
        return  # waiting for the follow-up visit
    satisfaction = rng.choice(["satisfied"] * 7 + ["basic", "basic", "dissatisfied"])
    act(
        "visit",
        actors.agent,
        6,
        reached=True,
        solved="solved" if result == "solved" else "partly",
        satisfaction=satisfaction,
        redo=None,
        method="phone",
        timely_contact=True,
        note=None,
    )
    if satisfaction == "dissatisfied" and age_hours > 24 * 20:
        act("reply", lead, 24 * 3, result="solved", text="重新办理后已解决。")
        act("review_reply", actors.dispatcher, 2, approve=True, note=None)
        act(
            "visit",
            actors.agent,
            6,
            reached=True,
            solved="solved",
            satisfaction="basic",
            redo=None,
            method="phone",
            timely_contact=True,
            note=None,
        )


def print_logins() -> None:
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for username, display, role, unit in DEMO_USERS:
        click.echo(f"  {username:<12} {role:<11} {unit or '':<6} {display}")


@click.command("demo")
@click.option("--tickets", default=300, show_default=True, help="historical tickets to make")
@with_appcontext
def demo_command(tickets: int) -> None:
    """Load the demo city (catalogue, users, 90 days of tickets) once."""
    counts = load_demo(tickets)
    if counts:
        click.echo(f"demo city loaded: {counts['tickets']} tickets, {counts['users']} users")
    else:
        click.echo("demo city already loaded")
    print_logins()
