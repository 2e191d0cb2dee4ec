"""The transactional outbox against a real Redis: nothing sent before commit, nothing lost
when Redis is down, nothing enqueued twice."""

from __future__ import annotations

import os

import pytest
from flask import Flask
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from hotline.extensions import db
from hotline.models import OutboxItem
from hotline.outbox import enqueue_on_commit, notify_on_commit, relay_pending
from hotline.tickets.service import NewTicket, open_ticket

needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs a real Redis (make test starts one)"
)


def pending() -> int:
    return (
        db.session.scalar(
            select(func.count()).select_from(OutboxItem).where(OutboxItem.relayed_at.is_(None))
        )
        or 0
    )


def test_rollback_drops_the_outbox_rows(app: Flask):
    notify_on_commit("ticket.updated", {"reference": "x"}, rooms=["office"])
    enqueue_on_commit("relay_outbox")
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(OutboxItem)) == 0


def test_every_accepted_ticket_queues_a_push(app: Flask):
    open_ticket(NewTicket(channel="api", type="consult", urgency="general", content="问"), None)
    rows = db.session.scalars(select(OutboxItem)).all()
    assert {r.room for r in rows} >= {"office"}
    assert all(r.kind == "push" and r.name == "ticket.updated" for r in rows)


@needs_redis
def test_jobs_are_enqueued_once_after_commit_and_run_by_a_worker(app: Flask, queue: Queue):
    enqueue_on_commit("relay_outbox", limit=10)
    assert queue.count == 0  # nothing leaves before the commit
    db.session.commit()
    assert relay_pending() == 1
    assert relay_pending() == 0  # already relayed: not enqueued again
    job_ids = queue.job_ids
    assert len(job_ids) == 1 and job_ids[0].startswith("outbox-")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    job = queue.fetch_job(job_ids[0])
    assert job is not None and job.is_finished


@needs_redis
def test_redis_down_keeps_rows_until_the_relay_catches_up(app: Flask, queue: Queue):
    good_url = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app.config["OUTBOX_RELAY_ON_COMMIT"] = True
    enqueue_on_commit("relay_outbox")
    db.session.commit()  # the request still succeeds
    row = db.session.scalar(select(OutboxItem))
    assert row is not None and row.relayed_at is None
    assert row.attempts == 1 and row.last_error
    db.session.rollback()  # end this read (SQLite: a transaction holds the write lock)
    app.config["REDIS_URL"] = good_url
    assert relay_pending() == 1
    assert pending() == 0
    assert len(queue.job_ids) == 1


@needs_redis
def test_a_batch_goes_in_one_round_and_a_stale_claim_is_taken_again(app: Flask, queue: Queue):
    from datetime import timedelta

    from sqlalchemy import update

    from hotline.models import utcnow
    from hotline.outbox import CLAIM_TIMEOUT

    for n in range(30):
        enqueue_on_commit("relay_outbox", limit=n + 1)
        notify_on_commit("ticket.updated", {"reference": f"R{n}"}, rooms=["office"])
    db.session.commit()
    first, second = db.session.scalars(select(OutboxItem.id).order_by(OutboxItem.id).limit(2))
    # One row is held by a relay at work now; another by one that stopped long ago.
    db.session.execute(update(OutboxItem).where(OutboxItem.id == first).values(claimed_at=utcnow()))
    stale = utcnow() - CLAIM_TIMEOUT - timedelta(seconds=1)
    db.session.execute(update(OutboxItem).where(OutboxItem.id == second).values(claimed_at=stale))
    db.session.commit()
    held_kind = db.session.scalar(select(OutboxItem.kind).where(OutboxItem.id == first))
    db.session.rollback()
    assert relay_pending() == 59  # all but the one another relay holds
    assert len(queue.job_ids) == (29 if held_kind == "job" else 30)
    assert pending() == 1
    db.session.rollback()
    row = db.session.get(OutboxItem, first)
    assert row is not None and row.relayed_at is None
