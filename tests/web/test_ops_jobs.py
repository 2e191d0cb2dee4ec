"""The background work page (/ops/jobs): supervisors see failed jobs and run them again,
and see the outbox and SMS still waiting; nobody else sees it."""

from __future__ import annotations

import os
from typing import Any

import pytest
from flask import Flask
from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry

from hotline.extensions import db
from hotline.models import OutboxItem
from tests.web.socket_client import login

ZH = {"Accept-Language": "zh-CN"}
pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs a real Redis (make test starts one)"
)


@pytest.mark.parametrize(
    ("role", "department", "status"),
    [
        ("supervisor", None, 200),
        ("admin", None, 200),
        ("agent", None, 403),
        ("handler", "PJQ", 403),
    ],
)
def test_the_page_is_for_supervisors_and_admins(
    app: Flask, staff: Any, queue: Queue, role: str, department: str | None, status: int
) -> None:
    assert login(app, f"u-{role}", role, department).get("/ops/jobs").status_code == status


def test_a_failed_job_is_shown_and_run_again(app: Flask, staff: Any, queue: Queue) -> None:
    job = queue.enqueue("builtins.int", "not a number", job_id="broken-1")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert FailedJobRegistry(queue=queue).get_job_ids() == [job.id]
    db.session.add(OutboxItem(kind="job", name="send_sms", payload={"message_id": 1}))
    db.session.commit()

    supervisor = login(app, "sup", "supervisor")
    page = supervisor.get("/ops/jobs", headers=ZH).text
    assert 'data-job="broken-1"' in page and "ValueError" in page
    assert "1 项尚未交给 Redis" in page
    done = supervisor.post("/ops/jobs/broken-1/retry", headers=ZH)
    assert done.status_code == 303
    assert FailedJobRegistry(queue=queue).get_job_ids() == []
    assert "broken-1" in queue.job_ids
    missing = supervisor.post("/ops/jobs/no-such-job/retry", headers=ZH)
    assert missing.status_code == 404 and "找不到失败任务" in missing.text


def test_redis_down_is_said_on_the_page_not_a_500(app: Flask, staff: Any) -> None:
    supervisor = login(app, "sup", "supervisor")
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    page = supervisor.get("/ops/jobs", headers=ZH)
    assert page.status_code == 200 and "任务队列（Redis）无法连接" in page.text
    refused = supervisor.post("/ops/jobs/anything/retry", headers=ZH)
    assert refused.status_code == 503
