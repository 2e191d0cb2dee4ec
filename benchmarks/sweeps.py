"""`python -m benchmarks.sweeps [--tickets N] [--outbox M]`: the background side at city
scale.

1. The deadline sweep over N open tickets (default 100,000) whose deadlines spread over
   ±30 days around now, with everything already due raised by earlier rounds (the
   steady state a worker sees every minute): p50/p95 of one scheduled
   `hotline.sweeps.sweep()` round (deadlines passed within the lookback) as the clock
   moves a minute per round, and of a full round (every deadline passed, as every
   SWEEP_FULL_EVERY-th round is), against a baseline in the same run that loads every
   open ticket and decides in Python what is due.
2. The outbox relay: M job rows handed to RQ on a real Redis (an embedded one,
   started here), rows per second, against a Redis pipeline pushing the same number of
   payloads (the cost of talking to Redis at all).

Everything runs on loopback with a throwaway SQLite database (or `--database-url`).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.common import make_app

HANDLING = ("pending_sign", "in_progress")


def _load(app, count: int, now: datetime) -> None:  # type: ignore[no-untyped-def]
    """N open tickets; alerts for everything already due, as earlier rounds left them."""
    from sqlalchemy import insert, select

    from hotline.extensions import db
    from hotline.models import DeadlineAlert, Department, Ticket

    rng = random.Random(7)
    with app.app_context():
        department = Department(
            code="BENCH", name="基准单位", short_name="基准", level="city", kind="bureau"
        )
        db.session.add(department)
        db.session.commit()
        rows = []
        for i in range(count):
            due = now + timedelta(minutes=rng.randint(-30 * 1440, 30 * 1440))
            status = rng.choice(HANDLING)
            sign_due = due - timedelta(days=9)
            rows.append(
                {
                    "reference": f"S{i:019d}",
                    "status": status,
                    "channel": "phone",
                    "type": "complaint",
                    "urgency": "general",
                    "title": "t",
                    "content": "c",
                    "received_at": due - timedelta(days=20),
                    "dispatched_at": due - timedelta(days=19),
                    "department_id": department.id,
                    "sign_due_at": sign_due,
                    "sign_warn_at": sign_due - timedelta(hours=8),
                    "due_at": due,
                    "due_warn_at": due - timedelta(days=1),
                }
            )
        for chunk in range(0, len(rows), 5000):
            db.session.execute(insert(Ticket), rows[chunk : chunk + 5000])
        db.session.commit()
        due_rows = db.session.execute(
            select(Ticket.id, Ticket.status, Ticket.sign_due_at, Ticket.due_at)
        ).all()
        alerts = []
        for ticket_id, status, sign_due, due in due_rows:
            for kind, deadline, warn in (
                ("due_yellow", due, due - timedelta(days=1)),
                ("due_red", due, due),
                ("supervise", due, due + timedelta(days=7)),
            ):
                if warn <= now:
                    alerts.append({"ticket_id": ticket_id, "kind": kind, "deadline": deadline})
            if status == "pending_sign":
                for kind, warn in (
                    ("sign_yellow", sign_due - timedelta(hours=8)),
                    ("sign_red", sign_due),
                ):
                    if warn <= now:
                        alerts.append({"ticket_id": ticket_id, "kind": kind, "deadline": sign_due})
        for chunk in range(0, len(alerts), 5000):
            db.session.execute(insert(DeadlineAlert), alerts[chunk : chunk + 5000])
        db.session.commit()
        print(f"  loaded {count} open tickets, {len(alerts)} alerts already raised")


def bench_sweep(app, count: int, rounds: int) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from hotline.extensions import db
    from hotline.models import Ticket
    from hotline.models.base import simulated_now
    from hotline.sweeps import sweep

    now = datetime.now(UTC).replace(microsecond=0)
    _load(app, count, now)
    ours: list[float] = []
    raised = 0
    with app.app_context():
        for n in range(rounds):
            with simulated_now(now + timedelta(minutes=n + 1)):
                start = time.perf_counter()
                report = sweep(full=False)
                ours.append(time.perf_counter() - start)
            raised += sum(v for k, v in report.items() if k != "filled")
        full: list[float] = []
        for n in range(3):
            with simulated_now(now + timedelta(minutes=rounds + n + 1)):
                start = time.perf_counter()
                report = sweep(full=True)
                full.append(time.perf_counter() - start)
            raised += sum(v for k, v in report.items() if k != "filled")

        def python_decides() -> int:
            moment = now + timedelta(minutes=rounds)
            tickets = db.session.scalars(select(Ticket).where(Ticket.status.in_(HANDLING))).all()
            due = sum(
                1
                for t in tickets
                if (t.due_warn_at and t.due_warn_at <= moment)
                or (t.status == "pending_sign" and t.sign_warn_at and t.sign_warn_at <= moment)
            )
            db.session.expunge_all()
            return due

        base = []
        for _ in range(3):
            start = time.perf_counter()
            python_decides()
            base.append(time.perf_counter() - start)
    print(
        f"deadline sweep over {count} open tickets, {rounds} rounds a minute apart "
        f"({raised} raised)"
    )
    a = _summary("scheduled round (index ranges, lookback)", ours)
    f = _summary("full round (every deadline passed)", full)
    b = _summary("baseline: load all open, decide in Python", base)
    print(f"  ratio scheduled round / baseline = {a / b:.4f}; full round / baseline = {f / b:.4f}")


def bench_relay(app, count: int) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import insert

    from hotline.extensions import db
    from hotline.models import OutboxItem
    from hotline.outbox import relay_pending
    from hotline.queue import redis_connection

    with app.app_context():
        rows = [
            {"kind": "job", "name": "send_sms", "payload": {"message_id": i}} for i in range(count)
        ]
        db.session.execute(insert(OutboxItem), rows)
        db.session.commit()
        connection = redis_connection()
        connection.flushdb()
        start = time.perf_counter()
        relayed = 0
        while True:
            done = relay_pending(limit=500)
            relayed += done
            if done == 0:
                break
        ours = time.perf_counter() - start
        start = time.perf_counter()
        pipe = connection.pipeline()
        for i in range(count):
            pipe.hset(f"bench:{i}", mapping={"kwargs": f'{{"message_id": {i}}}'})
            pipe.rpush("bench:queue", f"bench:{i}")
        pipe.execute()
        base = time.perf_counter() - start
    print(f"outbox relay of {count} job rows to RQ on a local Redis")
    print(f"  relay                       {relayed / ours:10.0f} rows/s ({ours:.2f} s)")
    print(f"  baseline: Redis pipeline    {count / base:10.0f} rows/s ({base:.2f} s)")
    print(f"  ratio relay / baseline = {(relayed / ours) / (count / base):.4f}")


def _summary(name: str, samples: list[float]) -> float:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1e3
    p95 = ordered[int(0.95 * (len(ordered) - 1))] * 1e3
    print(f"  {name:<42} n={len(samples):<4} p50={p50:9.2f}ms p95={p95:9.2f}ms")
    return statistics.median(ordered)


def main(argv: list[str] | None = None) -> None:
    import os

    from hotline.embedded import start_redis

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--outbox", type=int, default=5_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("REDIS_URL", start_redis(Path(tempfile.mkdtemp(prefix="bench-redis-"))))
    app = make_app(args.database_url)
    app.config["REDIS_URL"] = os.environ["REDIS_URL"]
    bench_sweep(app, args.tickets, args.rounds)
    bench_relay(app, args.outbox)


if __name__ == "__main__":
    main()
