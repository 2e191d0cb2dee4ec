"""Redis connection and RQ queues."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import current_app
from redis import Redis
from rq import Queue, Retry

DEFAULT_QUEUE = "hotline"
RETRY_INTERVALS = [10, 30, 120, 600, 1800]
FAILURE_TTL = 30 * 24 * 3600  # failed jobs stay a month for supervisors to retry


@lru_cache(maxsize=8)
def _redis(url: str) -> Redis:
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def redis_connection() -> Redis:
    url = current_app.config.get("REDIS_URL")
    if not url:
        raise RuntimeError("REDIS_URL is not configured")
    return _redis(url)


def get_queue(name: str = DEFAULT_QUEUE) -> Queue:
    return Queue(name, connection=redis_connection())


def enqueue_outbox_job(outbox_id: int | str, name: str, payload: dict[str, Any]) -> None:
    """Enqueue `hotline.jobs.<name>`; the job id makes a re-relay replace, not duplicate."""
    get_queue().enqueue(
        f"hotline.jobs.{name}",
        kwargs=payload,
        job_id=f"outbox-{outbox_id}",
        retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
        failure_ttl=FAILURE_TTL,
    )


def enqueue_outbox_jobs(jobs: list[tuple[int, str, dict[str, Any]]]) -> None:
    """Enqueue many outbox jobs (id, name, kwargs) in one Redis pipeline."""
    queue = get_queue()
    retry = Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS)
    data = [
        Queue.prepare_data(
            f"hotline.jobs.{name}",
            kwargs=payload,
            job_id=f"outbox-{outbox_id}",
            retry=retry,
            failure_ttl=FAILURE_TTL,
        )
        for outbox_id, name, payload in jobs
    ]
    with queue.connection.pipeline() as pipe:
        queue.enqueue_many(data, pipeline=pipe)
        pipe.execute()
