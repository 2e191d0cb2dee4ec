"""Signed SMS webhook → ticket, through the Flask test client, against a bare Flask
endpoint that parses the same form and does one INSERT, on the same database.

What the webhook pays for on top of the baseline: the app's request hooks, the
signature check (HMAC-SHA1 over the URL and form), the raw payload committed first,
then the ticket in its own transaction (reference counter, contact, hash-chained
event, outbox rows, the recorded TwiML reply) and the TwiML document. Each request
is a new sender, so every one opens a ticket (no threading). Signatures are computed
before timing. A third series re-posts MessageSids already seen (Twilio's retries).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

BASE_URL = "https://bench.hotline.invalid"
TOKEN = "bench-twilio-token"


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p95, p99 in milliseconds."""
    ordered = sorted(samples)

    def rank(q: float) -> float:
        return ordered[int(q * (len(ordered) - 1))] * 1e3

    return statistics.median(ordered) * 1e3, rank(0.95), rank(0.99)


def _line(name: str, samples: list[float]) -> float:
    p50, p95, p99 = _percentiles(samples)
    print(f"  {name:<34} n={len(samples):<6} p50={p50:8.3f}ms p95={p95:8.3f}ms p99={p99:8.3f}ms")
    return p50


def _timed(calls: list[Callable[[], object]]) -> list[float]:
    samples = []
    for call in calls:
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return samples


def _baseline_app(app: Flask) -> Flask:
    """A bare Flask app on the hotline app's engine: parse the form, one INSERT, a constant."""
    from sqlalchemy import insert

    from hotline.extensions import db
    from hotline.models import Ticket

    with app.app_context():
        engine = db.engine
    bare = Flask("bare-insert")
    answer = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>ok</Message></Response>'

    @bare.post("/insert")
    def insert_one() -> Response:
        form = request.form
        with engine.begin() as connection:
            connection.execute(
                insert(Ticket).values(
                    reference="S" + form["MessageSid"][-19:],
                    status="accepted",
                    channel="sms",
                    type="help",
                    urgency="general",
                    title=form["Body"][:30],
                    content=form["Body"],
                    received_at=datetime.now(UTC),
                )
            )
        return Response(answer, mimetype="application/xml")

    return bare


def bench_sms_intake(app: Flask, count: int = 200) -> None:
    """Print p50/p95/p99 of the signed SMS webhook and of the bare INSERT, and the ratio."""
    from sqlalchemy import func, select

    from hotline.extensions import db
    from hotline.models import Ticket

    app.config.update(PUBLIC_BASE_URL=BASE_URL, TWILIO_AUTH_TOKEN=TOKEN)
    validator = RequestValidator(TOKEN)
    forms = [
        {
            "MessageSid": f"SM{index:032d}",
            "AccountSid": "AC" + "0" * 32,
            "From": f"+86139{index:08d}",
            "To": "+14155550100",
            "Body": f"第{index}号：小区门口路灯不亮，晚上出行不便，请尽快维修",
            "NumMedia": "0",
        }
        for index in range(count)
    ]
    signed = [
        (form, {"X-Twilio-Signature": validator.compute_signature(BASE_URL + "/twilio/sms", form)})
        for form in forms
    ]
    client = app.test_client()
    bare = _baseline_app(app).test_client()

    def webhook(form: dict[str, str], headers: dict[str, str]) -> Callable[[], object]:
        def call() -> None:
            response = client.post("/twilio/sms", data=form, headers=headers)
            assert response.status_code == 200, response.status_code

        return call

    def baseline(form: dict[str, str]) -> Callable[[], object]:
        def call() -> None:
            assert bare.post("/insert", data=form).status_code == 200

        return call

    # Warm both paths once (imports, first connection, route compilation).
    warm = {**forms[0], "MessageSid": "SM" + "w" * 32, "From": "+8613900000000"}
    client.post(
        "/twilio/sms",
        data=warm,
        headers={"X-Twilio-Signature": validator.compute_signature(BASE_URL + "/twilio/sms", warm)},
    )
    bare.post("/insert", data={**warm, "MessageSid": "SM" + "x" * 32})

    ours = _timed([webhook(form, headers) for form, headers in signed])
    retries = _timed([webhook(form, headers) for form, headers in signed[: max(1, count // 4)]])
    base = _timed([baseline(form) for form in forms])
    with app.app_context():
        opened = db.session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.external_id.like("sms:%"))
        )
    print(f"SMS intake (signed Twilio webhook -> ticket; {opened} SMS tickets in the database)")
    a = _line("POST /twilio/sms (new ticket)", ours)
    _line("POST /twilio/sms (retried sid)", retries)
    b = _line("baseline: bare Flask + one INSERT", base)
    print(f"  throughput {1e3 / a:.0f} texts/s on one thread; ratio p50 / baseline = {a / b:.1f}")
    p99_ours, p99_base = _percentiles(ours)[2], _percentiles(base)[2]
    print(f"  ratio p99 / baseline p99 = {p99_ours / p99_base:.1f}; Twilio allows 15000 ms")
