"""What the background side owes and where it is stuck, for supervisors: jobs that
failed after all their retries (RQ's failed registry), outbox rows Redis has not taken
yet, and citizens' SMS held or failed. A failed job can be run again from here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from hotline.errors import NotFound, ServiceUnavailable
from hotline.extensions import db
from hotline.models import Message, OutboxItem
from hotline.models.enums import MessageDirection, MessageStatus
from hotline.queue import get_queue

LIMIT = 100


@dataclass
class FailedJob:
    id: str
    function: str
    ended_at: datetime | None
    problem: str
    arguments: dict[str, Any]


@dataclass
class Backlog:
    failed: list[FailedJob]
    failed_total: int
    redis_error: str | None
    waiting_outbox: int
    oldest_outbox: datetime | None
    outbox_problem: str | None
    sms: dict[str, int]


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def backlog() -> Backlog:
    """Everything stuck, newest failures first; Redis being down is reported, not raised."""
    failed: list[FailedJob] = []
    total = 0
    redis_error = None
    try:
        registry = FailedJobRegistry(queue=get_queue())
        total = registry.count
        ids = registry.get_job_ids(0, LIMIT - 1, desc=True)
        for job in Job.fetch_many(ids, connection=registry.connection):
            if job is None:
                continue
            ended = job.ended_at.replace(tzinfo=UTC) if job.ended_at else None
            result = job.latest_result()
            problem = result.exc_string if result is not None else None
            failed.append(
                FailedJob(job.id, job.func_name, ended, _last_line(problem), dict(job.kwargs))
            )
    except (RedisError, RuntimeError) as exc:
        redis_error = str(exc)
    waiting, oldest = db.session.execute(
        select(func.count(OutboxItem.id), func.min(OutboxItem.created_at)).where(
            OutboxItem.relayed_at.is_(None)
        )
    ).one()
    problem = db.session.scalar(
        select(OutboxItem.last_error)
        .where(OutboxItem.relayed_at.is_(None), OutboxItem.last_error.is_not(None))
        .order_by(OutboxItem.id.desc())
        .limit(1)
    )
    sms = dict(
        db.session.execute(
            select(Message.status, func.count(Message.id))
            .where(
                Message.direction == MessageDirection.OUTBOUND,
                Message.status.in_(
                    [
                        MessageStatus.HELD,
                        MessageStatus.FAILED,
                        MessageStatus.QUEUED,
                        MessageStatus.SENDING,
                    ]
                ),
            )
            .group_by(Message.status)
        ).all()
    )
    return Backlog(failed, total, redis_error, waiting or 0, oldest, problem, sms)


def retry_failed(job_id: str) -> None:
    """Run a failed job again (it goes back on its queue)."""
    try:
        registry = FailedJobRegistry(queue=get_queue())
        registry.requeue(job_id)
    except (NoSuchJobError, InvalidJobOperation):
        raise NotFound(f"no failed job {job_id}", f"找不到失败任务 {job_id}") from None
    except (RedisError, RuntimeError) as exc:
        raise ServiceUnavailable(
            f"Redis is not reachable: {exc}", "任务队列（Redis）暂时无法连接，请稍后再试"
        ) from None
