"""`python -m benchmarks.dashboard [--tickets N] [--database-url URL | --postgres]`: the
supervisors' views over N generated tickets (default 1,000,000) spread over a year, with
their assignments, visits and calls: p50/p95 of each view for a month and for a quarter,
first counted live from the tables, then after the worker has built the figures' daily
rollup (hotline.kpi_rollup; the build time is printed too), against a baseline in the
same run that loads the month's tickets into Python and counts there. `--postgres`
starts a throwaway PostgreSQL cluster the way the test harness does. Target (issue 8):
≤ 300 ms per view on PostgreSQL.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from benchmarks.common import make_app, throwaway_postgres

STATUSES = ("closed",) * 6 + ("in_progress", "pending_sign", "pending_visit", "merged")


def _load(app, count: int, start: datetime) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import insert, select

    from hotline.extensions import db
    from hotline.models import Assignment, CallRecord, Department, ReturnRequest, Ticket, Visit

    rng = random.Random(11)
    with app.app_context():
        units = []
        for n in range(30):
            unit = Department(
                code=f"U{n:02d}",
                name=f"单位{n}",
                short_name=f"单位{n}",
                level="city",
                kind=("territorial", "department", "utility")[n % 3],
            )
            db.session.add(unit)
            units.append(unit)
        db.session.commit()
        unit_ids = [u.id for u in units]
        span = 365 * 24 * 3600
        batch = 20_000
        for first in range(0, count, batch):
            rows = []
            for i in range(first, min(first + batch, count)):
                received = start + timedelta(seconds=rng.randrange(span))
                status = rng.choice(STATUSES)
                dispatched = received + timedelta(hours=1)
                rows.append(
                    {
                        "reference": f"B{i:019d}",
                        "status": status,
                        "channel": rng.choice(("phone", "phone", "phone", "sms", "web", "window")),
                        "type": "complaint",
                        "urgency": "general",
                        "title": "t",
                        "content": "c",
                        "received_at": received,
                        "dispatched_at": dispatched,
                        "department_id": rng.choice(unit_ids),
                        "due_at": received + timedelta(days=rng.randint(2, 21)),
                        "replied_at": received + timedelta(days=rng.randint(1, 25)),
                        "closed_at": received + timedelta(days=26) if status == "closed" else None,
                        "disposition": "direct_answer" if rng.random() < 0.15 else None,
                    }
                )
            db.session.execute(insert(Ticket), rows)
            db.session.commit()
        ids = db.session.execute(
            select(Ticket.id, Ticket.department_id, Ticket.dispatched_at, Ticket.received_at)
        ).all()
        for first in range(0, len(ids), batch):
            chunk = ids[first : first + batch]
            db.session.execute(
                insert(Assignment),
                [
                    {
                        "ticket_id": t,
                        "department_id": d,
                        "role": "lead",
                        "round": 1,
                        "dispatched_at": at,
                        "sign_due_at": at + timedelta(days=1),
                        "signed_at": at + timedelta(hours=rng.randint(1, 40)),
                    }
                    for t, d, at, _r in chunk
                ],
            )
            db.session.execute(
                insert(Visit),
                [
                    {
                        "ticket_id": t,
                        "method": "sms",
                        "reached": rng.random() < 0.8,
                        "solved": rng.choice(("solved", "partly", "unsolved")),
                        "satisfaction": rng.choice(("satisfied", "basic", "dissatisfied")),
                        "redo": False,
                        "visited_at": r + timedelta(days=20),
                    }
                    for t, _d, _a, r in chunk
                    if rng.random() < 0.6
                ],
            )
            db.session.commit()
        calls = [
            {
                "call_sid": f"CA{i:032d}",
                "status": "answered",
                "started_at": start + timedelta(seconds=rng.randrange(span)),
                "queued_at": start,
                "answered_at": start,
                "queue_wait_s": rng.randint(0, 60),
                "duration_s": rng.randint(30, 600),
                "data": {},
            }
            for i in range(count // 2)
        ]
        for first in range(0, len(calls), batch):
            db.session.execute(insert(CallRecord), calls[first : first + batch])
        db.session.commit()
        del ReturnRequest  # send-backs are rare; the views' cost is the tables above


def _timed(fn, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        begin = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - begin)
    return samples


def _line(name: str, samples: list[float]) -> float:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1e3
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1e3
    print(f"  {name:<44} n={len(samples):<3} p50={p50:9.1f}ms p95={p95:9.1f}ms")
    return p50


def _views(repeat: int, label: str) -> dict[str, float]:
    from hotline.dashboard import build
    from hotline.kpi import report

    city = ZoneInfo("Asia/Shanghai")
    month = (datetime(2025, 6, 1, tzinfo=city), datetime(2025, 7, 1, tzinfo=city))
    quarter = (datetime(2025, 4, 1, tzinfo=city), datetime(2025, 7, 1, tzinfo=city))
    print(f"views, {label} (p50/p95 per view):")
    views = {
        "figures, month, total": lambda: report(*month),
        "figures, month, by unit": lambda: report(*month, "department"),
        "figures, quarter, by unit": lambda: report(*quarter, "department"),
        "figures, month, by channel": lambda: report(*month, "channel"),
        "dashboard page data, month": lambda: build(*month),
    }
    return {name: _line(name, _timed(view, repeat)) for name, view in views.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--postgres", action="store_true", help="a throwaway cluster")
    args = parser.parse_args(argv)
    url = throwaway_postgres() if args.postgres else args.database_url
    app = make_app(url)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    began = time.perf_counter()
    _load(app, args.tickets, start)
    print(
        f"database: {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}; "
        f"{args.tickets} tickets loaded in {time.perf_counter() - began:.0f}s"
    )
    from sqlalchemy import select

    from hotline.extensions import db
    from hotline.kpi_rollup import refresh
    from hotline.models import Ticket

    with app.test_request_context():
        live = _views(max(1, min(2, args.repeat)), "counted live")
        began = time.perf_counter()
        days = refresh(limit=10_000)
        print(f"rollup: {len(days)} days built in {time.perf_counter() - began:.1f}s")
        results = _views(args.repeat, "from the daily rollup")
        month = (datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC))

        def python_counts() -> int:
            tickets = db.session.scalars(
                select(Ticket).where(Ticket.received_at >= month[0], Ticket.received_at < month[1])
            ).all()
            on_time = sum(
                1 for t in tickets if t.replied_at and t.due_at and t.replied_at <= t.due_at
            )
            db.session.expunge_all()
            return on_time

        base = _line("baseline: month's tickets into Python", _timed(python_counts, 3))
        print(
            f"  slowest view / baseline = {max(results.values()) / base:.3f} "
            f"(counted live: {max(live.values()) / base:.3f})"
        )


if __name__ == "__main__":
    main()
