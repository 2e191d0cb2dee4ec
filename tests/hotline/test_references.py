"""Ticket references stay unique when many agents accept requests at the same moment."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import select

from hotline.extensions import db
from hotline.models import Ticket
from hotline.models.base import simulated_now
from hotline.tickets.service import NewTicket, open_ticket


def test_concurrent_acceptance_gives_unique_sequential_references(app: Flask):
    threads, errors = [], []
    per_thread, workers = 10, 6

    def accept_many() -> None:
        try:
            with app.app_context():
                for _ in range(per_thread):
                    open_ticket(
                        NewTicket(
                            channel="api", type="consult", urgency="general", content="并发受理"
                        ),
                        None,
                    )
                db.session.remove()
        except Exception as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    for _ in range(workers):
        threads.append(threading.Thread(target=accept_many))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    references = db.session.scalars(select(Ticket.reference)).all()
    assert len(references) == len(set(references)) == per_thread * workers
    sequences = sorted(int(r[-6:]) for r in references)
    assert sequences == list(range(1, per_thread * workers + 1))


def test_reference_uses_the_local_date(app: Flask):
    # 2025-03-01 23:30 UTC is already 2025-03-02 in Jiangmen
    with simulated_now(datetime(2025, 3, 1, 23, 30, tzinfo=ZoneInfo("UTC"))):
        ticket, _ = open_ticket(
            NewTicket(channel="api", type="consult", urgency="general", content="日期"), None
        )
    assert ticket.reference == "44070020250302000001"
