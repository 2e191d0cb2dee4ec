"""RQ job functions: `hotline.jobs.<name>`, enqueued through the outbox (`hotline.outbox`).

Jobs are plain functions that take ids and plain keyword values (never ORM objects)
and call the services; they stay thin. A worker process (`hotline worker`) creates
one app and pushes its context before it starts working, so a job normally runs
inside that context; `app_context()` makes a job also runnable where there is none
(a bare `rq worker`, a script), creating the app once per process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, has_app_context

_process_app: Flask | None = None


@contextmanager
def app_context() -> Iterator[Flask]:
    """The current app context, or one of an app created once for this process."""
    if has_app_context():
        yield current_app._get_current_object()  # type: ignore[attr-defined]
        return
    global _process_app
    if _process_app is None:
        from hotline import create_app

        _process_app = create_app()
    with _process_app.app_context():
        yield _process_app


def relay_outbox(limit: int = 500) -> int:
    """Hand pending outbox rows to Redis (the catch-up relay); returns how many."""
    from hotline.outbox import relay_pending

    with app_context():
        return relay_pending(limit=limit)


def send_sms(message_id: int) -> str:
    """Send one queued outbound SMS through Twilio (idempotent); returns its status.

    Transient Twilio or network errors propagate, so RQ's Retry tries again.
    """
    from hotline.sms_sending import send_message

    with app_context():
        return send_message(message_id)


def assign_waiting() -> int:
    """Give waiting chats and callbacks to available agents (hotline.assignment)."""
    from hotline.assignment import drain

    with app_context():
        return len(drain())


def sweep_deadlines(full: bool = True) -> dict[str, int]:
    """One deadline sweep (hotline.sweeps): warnings, red cards, automatic urging and
    supervision, review reminders, visit surveys; each raised exactly once. `full`
    False looks only at deadlines passed within SWEEP_LOOKBACK_S. Then the figures'
    daily rollup catches up (hotline.kpi_rollup.refresh)."""
    from hotline.kpi_rollup import refresh
    from hotline.sweeps import sweep

    with app_context():
        found = sweep(full=full)
        found["rollup_days"] = len(refresh())
        return found


def reindex_knowledge_base() -> int | None:
    """Re-index the knowledge base if its index was built by another text analysis
    (knowledge_base.reindex.reindex_if_stale); returns how many articles were."""
    from knowledge_base.reindex import reindex_if_stale

    with app_context():
        return reindex_if_stale()


def catch_up() -> int:
    """The worker's periodic round: relay pending outbox rows, then finish any stored
    inbound request whose processing never completed (a crash, the database or Redis
    down at the time), re-run SMS a stopped worker left half-sent, alert on service
    guides approved but not published in time, make sure the next deadline sweep is
    scheduled, and queue a re-index of the knowledge base if an upgrade changed how
    its text is read. Returns how many outbox rows were relayed."""
    from hotline.intake.raw import replay_unprocessed
    from hotline.outbox import relay_pending
    from hotline.sms_sending import resend_stuck
    from hotline.sweeps import schedule_sweep
    from knowledge_base.articles import flag_late_publications
    from knowledge_base.reindex import schedule_reindex

    with app_context():
        relayed = relay_pending()
        replay_unprocessed()
        resend_stuck()
        flag_late_publications()
        schedule_sweep()
        schedule_reindex()
        return relayed
