"""Faults on the way to the citizen: an RQ work horse killed in the middle of sending
an SMS (before or after Twilio took it), and Redis stopped while a ticket is accepted. In
every case the ticket is kept and the SMS goes exactly once (Twilio's side is a fake
behind the SDK's own `http_client` hook, kept in a file both processes write)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from rq import Queue, SimpleWorker, Worker
from sqlalchemy import select
from twilio.http import HttpClient
from twilio.http.response import Response

from hotline import sms_sending
from hotline.embedded import free_port
from hotline.extensions import db
from hotline.models import Message, OutboxItem, Ticket, utcnow
from hotline.models.base import simulated_now
from hotline.outbox import relay_pending
from hotline.queue import DEFAULT_QUEUE, redis_connection
from hotline.runner import _fresh_connections_after_fork
from tests.hotline.test_messaging import ACCOUNT, BASE, NUMBER, TOKEN, accept

pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs a real Redis (make test starts one)"
)


class FileTwilio(HttpClient):
    """Twilio's side, in a file: what it was asked and what it took. With `die` set,
    the process dies inside the call: "before" Twilio takes the text, or "after"."""

    def __init__(self, path: Path, die: str | None = None) -> None:
        super().__init__(logging.getLogger("tests.twilio"), is_async=False)
        self.path = path
        self.die = die

    def log(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines()]

    def _write(self, entry: dict[str, Any]) -> None:
        with self.path.open("a") as out:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def request(
        self, method: str, uri: str, params: Any = None, data: Any = None, **_: Any
    ) -> Response:  # type: ignore[override]
        if method == "GET":
            taken = [e["taken"] for e in self.log() if "taken" in e]
            found = [m for m in taken if m["to"] == (params or {}).get("To")]
            self._write({"asked": "GET"})
            return Response(200, json.dumps({"messages": found, "next_page_uri": None}))
        if self.die == "before":
            os._exit(137)  # the work horse is killed before its request goes out
        sid = f"SM{len(self.log()):032d}"
        taken = {"sid": sid, "status": "queued", "to": data["To"], "body": data["Body"]}
        self._write({"asked": "POST", "taken": taken})
        if self.die == "after":
            os._exit(137)  # … or after Twilio took it, before the answer is recorded
        return Response(201, json.dumps(taken))


def _twilio(app: Flask, client: FileTwilio) -> None:
    app.config.update(
        TWILIO_ACCOUNT_SID=ACCOUNT,
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_NUMBER=NUMBER,
        PUBLIC_BASE_URL=BASE,
        TWILIO_HTTP_CLIENT=client,
    )


@pytest.mark.parametrize("moment", ["before", "after"])
def test_a_work_horse_killed_mid_send_sends_the_sms_exactly_once(
    app: Flask, queue: Queue, tmp_path: Path, moment: str
) -> None:
    fake = FileTwilio(tmp_path / "twilio.jsonl", die=moment)
    _twilio(app, fake)
    app.config["OUTBOX_RELAY_ON_COMMIT"] = True
    accept()  # the acceptance SMS: queued, its job handed to Redis on commit
    db.session.rollback()
    db.session.remove()
    assert [j for j in queue.job_ids if j.startswith("outbox-")]

    _fresh_connections_after_fork(app)
    Worker([queue], connection=queue.connection).work(burst=True, with_scheduler=False)
    db.session.rollback()
    [message] = db.session.scalars(select(Message).where(Message.direction == "outbound"))
    message_id = message.id
    assert message.status == "sending"  # the horse died holding it
    posts = [e for e in fake.log() if e["asked"] == "POST"]
    assert len(posts) == (1 if moment == "after" else 0)

    fake.die = None
    with simulated_now(utcnow() + sms_sending.SENDING_GRACE + timedelta(seconds=5)):
        assert sms_sending.resend_stuck() == 1  # the worker's round finds it
        db.session.remove()
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    db.session.rollback()
    message = db.session.get(Message, message_id)
    assert message is not None and message.status == "sent"
    posts = [e for e in fake.log() if e["asked"] == "POST"]
    assert len(posts) == 1  # exactly once
    assert message.external_sid == posts[0]["taken"]["sid"]
    assert [e["asked"] for e in fake.log()].count("GET") == 1  # Twilio was asked first


@pytest.fixture
def own_redis(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A redis-server of this test's own, to stop and start again."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    command = [
        server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--dir",
        str(tmp_path),
    ]
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop() -> None:
        processes[-1].terminate()
        processes[-1].wait(timeout=10)

    start()
    yield f"redis://127.0.0.1:{port}/0", start, stop
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def test_redis_stopped_during_intake_keeps_the_ticket_and_sends_when_it_returns(
    app: Flask, tmp_path: Path, own_redis: Any
) -> None:
    url, start, stop = own_redis
    fake = FileTwilio(tmp_path / "twilio.jsonl")
    _twilio(app, fake)
    app.config.update(OUTBOX_RELAY_ON_COMMIT=True, REDIS_URL=url)
    stop()  # Redis goes down
    ticket = accept()  # a citizen's request arrives meanwhile
    db.session.rollback()
    assert db.session.get(Ticket, ticket.id) is not None  # the ticket is saved
    [job] = db.session.scalars(select(OutboxItem).where(OutboxItem.name == "send_sms"))
    assert job.relayed_at is None and job.attempts == 1 and job.last_error
    db.session.rollback()

    start()  # Redis is back: the worker's round relays, a worker sends
    assert relay_pending() >= 1
    db.session.remove()
    queue = Queue(DEFAULT_QUEUE, connection=redis_connection())
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    db.session.rollback()
    status = db.session.scalar(select(Message.status).where(Message.direction == "outbound"))
    assert status == "sent"
    assert [e["asked"] for e in fake.log()] == ["POST"]
