"""`make bench`: speed of the core paths, each as a ratio against a baseline measured in
the same run on the same machine (never asserted: targets are read, not tested).

1. deadline arithmetic: `deadline_for` (calendar cached, limits from config) against
   a bare loop over `chinese_calendar.is_workday`;
2. intake: `open_ticket` + `dispatch_ticket` (events, hash chain, outbox, deadlines)
   against plain INSERTs of the same ticket rows;
3. "what is overdue": the indexed range scan on `ticket.due_at` against loading every
   open ticket and filtering in Python, at city-day scale;
4. SMS intake: a signed Twilio SMS webhook -> ticket through the Flask test client,
   against a bare Flask endpoint doing one INSERT (`benchmarks/intake_sms.py`).
5. routing: accuracy and latency of `routing.suggest` on the evaluation and development
   sets, against a keyword-count baseline (`benchmarks/routing/__main__.py`).
6. knowledge-base search: recall@1/@3 and MRR@10 on the demo knowledge base, by kind
   of question, and latency at 100,000 articles, against jieba + rank_bm25
   (`benchmarks/kb/`).
7. the deadline sweep over 100,000 open tickets and the outbox relay's throughput,
   against loading every open ticket into Python and a bare Redis pipeline
   (`benchmarks/sweeps.py`).
8. the supervisors' views over generated tickets (200,000 by default here; the module
   alone defaults to 1,000,000), counted live and from the daily rollup, against loading
   a month's tickets into Python (`benchmarks/dashboard.py`).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import chinese_calendar

from benchmarks.common import make_app


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def summary(name: str, samples: list[float], unit: float = 1e3, label: str = "ms") -> float:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * unit
    p95 = ordered[int(0.95 * (len(ordered) - 1))] * unit
    p99 = ordered[int(0.99 * (len(ordered) - 1))] * unit
    print(
        f"  {name:<34} n={len(samples):<6} p50={p50:8.3f}{label} p95={p95:8.3f}{label} "
        f"p99={p99:8.3f}{label}"
    )
    return statistics.median(ordered)


def bench_deadlines(app, count: int) -> None:  # type: ignore[no-untyped-def]
    from hotline.clock.deadlines import handling_limit
    from hotline.clock.service import deadline_for

    rng = random.Random(1)
    starts = [
        datetime(2025, 1, 1, 2, tzinfo=UTC) + timedelta(hours=rng.randint(0, 16000))
        for _ in range(count)
    ]
    starts = [s for s in starts if s.year < 2026 or s.month < 11]

    def baseline_one(start: datetime) -> date:
        day, left = start.date(), 15
        while left:
            day += timedelta(days=1)
            if chinese_calendar.is_workday(day):
                left -= 1
        return day

    with app.app_context():
        limit = handling_limit(app.config, "complaint", "general")
        ours = [t for s in starts for t in timed(lambda s=s: deadline_for(s, limit), 1)]
        base = [t for s in starts for t in timed(lambda s=s: baseline_one(s), 1)]
    print("deadline arithmetic (complaint: 15 working days)")
    a = summary("deadline_for", ours, 1e6, "us")
    b = summary("baseline: bare is_workday loop", base, 1e6, "us")
    print(f"  ratio deadline_for / baseline = {a / b:.2f}")


def bench_intake(app, count: int) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import insert

    from hotline.auth import add_user
    from hotline.extensions import db
    from hotline.models import Ticket
    from hotline.tickets.service import NewTicket, dispatch_ticket, open_ticket
    from routing.catalogue import PACKAGED_CATALOGUE, import_catalogue

    with app.app_context():
        import_catalogue(PACKAGED_CATALOGUE)
        agent = add_user("bench-agent", "agent")

        def one() -> None:
            ticket, _ = open_ticket(
                NewTicket(
                    channel="phone",
                    type="complaint",
                    urgency="general",
                    content="楼下烧烤店油烟直排，请处理",
                    phone="13812345678",
                    category="0605",
                ),
                agent,
            )
            dispatch_ticket(ticket.reference, agent, department="PJQ")

        ours = timed(one, count)
        n = [0]

        def plain() -> None:
            n[0] += 1
            db.session.execute(
                insert(Ticket).values(
                    reference=f"B{n[0]:019d}",
                    status="pending_sign",
                    channel="phone",
                    type="complaint",
                    urgency="general",
                    title="油烟",
                    content="楼下烧烤店油烟直排",
                    received_at=datetime.now(UTC),
                )
            )
            db.session.commit()

        base = timed(plain, count)
    print("intake (one transaction each, as agents do it)")
    a = summary("open_ticket + dispatch", ours)
    b = summary("baseline: one plain INSERT", base)
    print(
        f"  throughput {1 / a:.0f} tickets/s accepted and dispatched; "
        f"ratio / baseline = {a / b:.1f}"
    )


def bench_overdue(app, count: int) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, insert, select

    from hotline.extensions import db
    from hotline.models import Ticket

    rng = random.Random(2)
    now = datetime.now(UTC)
    with app.app_context():
        rows = [
            {
                "reference": f"O{i:019d}",
                "status": rng.choice(["pending_sign", "in_progress", "closed", "closed", "closed"]),
                "channel": "phone",
                "type": "complaint",
                "urgency": "general",
                "title": "t",
                "content": "c",
                "received_at": now - timedelta(days=rng.randint(0, 90)),
                "due_at": now + timedelta(hours=rng.randint(-600, 600)),
            }
            for i in range(count)
        ]
        for chunk in range(0, len(rows), 5000):
            db.session.execute(insert(Ticket), rows[chunk : chunk + 5000])
        db.session.commit()
        scan = (
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.status.in_(["pending_sign", "in_progress"]), Ticket.due_at < now)
        )
        ours = timed(lambda: db.session.scalar(scan), 30)

        def python_filter() -> int:
            tickets = db.session.scalars(select(Ticket)).all()
            result = sum(
                1
                for t in tickets
                if t.status in ("pending_sign", "in_progress")
                and t.due_at is not None
                and t.due_at < now
            )
            db.session.expunge_all()
            return result

        base = timed(python_filter, 5)
    print(f"overdue count over {count} tickets")
    a = summary("indexed range scan", ours)
    b = summary("baseline: load all, filter in Python", base)
    print(f"  ratio scan / baseline = {a / b:.4f}")


def bench_sms(app, count: int) -> None:  # type: ignore[no-untyped-def]
    from benchmarks.intake_sms import bench_sms_intake

    bench_sms_intake(app, count)


def bench_routing(app) -> None:  # type: ignore[no-untyped-def]
    from benchmarks.routing.__main__ import run

    run(app)


def bench_kb(database_url: str | None, articles: int) -> None:
    from benchmarks.kb.__main__ import run

    run(make_app(database_url), articles)  # a database of its own: it grows the knowledge base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a throwaway SQLite file")
    parser.add_argument("--deadlines", type=int, default=2000)
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--overdue-rows", type=int, default=60000)
    parser.add_argument("--sms", type=int, default=200, help="SMS webhook requests")
    parser.add_argument("--kb-articles", type=int, default=100_000, help="knowledge-base size")
    parser.add_argument("--sweep-tickets", type=int, default=100_000, help="open tickets swept")
    parser.add_argument(
        "--dashboard-tickets", type=int, default=200_000, help="tickets under the figures"
    )
    args = parser.parse_args()
    app = make_app(args.database_url)
    print(f"database: {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}")
    bench_deadlines(app, args.deadlines)
    bench_intake(app, args.tickets)
    bench_overdue(app, args.overdue_rows)
    bench_sms(app, args.sms)
    bench_routing(app)
    bench_kb(args.database_url, args.kb_articles)
    from benchmarks.sweeps import main as bench_sweeps

    bench_sweeps(["--tickets", str(args.sweep_tickets)])
    from benchmarks.dashboard import main as bench_dashboard

    bench_dashboard(["--tickets", str(args.dashboard_tickets)])


if __name__ == "__main__":
    main()
