"""`python -m benchmarks.sockets`: a new ticket reaching N connected agent sockets spread
over 2 web processes (`hotline serve --no-worker`, Socket.IO through the Redis message
queue): p50/p99 delivery time, from the API call that creates the ticket to each
socket's `ticket.updated`. Baseline in the same run: one socket on the process that
created the ticket (the shortest path a push can take).

Everything runs on loopback: an embedded Redis, a throwaway SQLite database, the two
web processes and the N clients (python-socketio over WebSocket, threads of this
process, so their clocks agree).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
import socketio

PASSWORD = "benchmark-password-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=1).ok:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


def _prepare(env: dict[str, str]) -> str:
    """Migrate the database, add the agent; returns an API token."""
    os.environ.update(env)
    from flask_migrate import upgrade

    from hotline import create_app
    from hotline.auth import add_user, issue_token
    from hotline.extensions import db

    app = create_app({"SOCKETIO_MESSAGE_QUEUE": False, "OUTBOX_RELAY_ON_COMMIT": False})
    with app.app_context():
        upgrade()
        add_user("bench-agent", "agent", password=PASSWORD)
        db.session.commit()
        token = issue_token("bench-agent")
        db.session.commit()
    return token


def _cookie(base: str) -> str:
    """Sign in through the login form (CSRF token and all); the session cookie."""
    session = requests.Session()
    page = session.get(base + "/login", timeout=10).text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    data = {"username": "bench-agent", "password": PASSWORD}
    if csrf:
        data["csrf_token"] = csrf.group(1)
    session.post(base + "/login", data=data, timeout=10, allow_redirects=False)
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


class Listener:
    """One agent screen: a socket on "/office" noting when each ticket's first push came."""

    def __init__(self, base: str, cookie: str) -> None:
        self.seen: dict[str, float] = {}
        self.client = socketio.Client(reconnection=False)
        self.client.on("ticket.updated", self._on, namespace="/office")
        self.client.connect(
            base, headers={"Cookie": cookie}, namespaces=["/office"], transports=["websocket"]
        )

    def _on(self, event: dict[str, Any]) -> None:
        self.seen.setdefault(event.get("reference", ""), time.perf_counter())

    def close(self) -> None:
        self.client.disconnect()


def _measure(base: str, token: str, listeners: list[Listener], tickets: int) -> list[float]:
    """Create tickets one after another; each socket's delivery time in ms."""
    samples: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    for n in range(tickets):
        start = time.perf_counter()
        response = requests.post(
            base + "/api/v1/tickets",
            json={"channel": "phone", "type": "complaint", "content": f"路灯坏了 第{n}次"},
            headers=headers,
            timeout=10,
        )
        reference = response.json()["reference"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if all(reference in listener.seen for listener in listeners):
                break
            time.sleep(0.002)
        samples += [
            (listener.seen[reference] - start) * 1e3
            for listener in listeners
            if reference in listener.seen
        ]
        missing = sum(reference not in listener.seen for listener in listeners)
        if missing:
            print(f"  ticket {n}: {missing} socket(s) never received it", flush=True)
    return samples


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"p50 {statistics.median(ordered):.1f}ms p99 {p99:.1f}ms (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--tickets", type=int, default=20)
    args = parser.parse_args()

    from hotline.embedded import start_redis

    work = Path(tempfile.mkdtemp(prefix="hotline-bench-sockets-"))
    env = {
        "REDIS_URL": start_redis(work / "redis"),
        "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
        "SECRET_KEY": "bench-secret",
        "PII_KEY": "bench-pii",
        "HOTLINE_INSTANCE_PATH": str(work),
    }
    token = _prepare(env)
    hotline = str(Path(sys.executable).with_name("hotline"))
    ports = [_free_port(), _free_port()]
    servers = [
        subprocess.Popen(
            [hotline, "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    listeners: list[Listener] = []
    try:
        for base in bases:
            _wait_http(base)
        cookie = _cookie(bases[0])
        print(f"sockets: {args.sockets} over 2 web processes, {args.tickets} tickets each")
        alone = [Listener(bases[0], cookie)]
        baseline = _measure(bases[0], token, alone, args.tickets)
        alone[0].close()
        for n in range(args.sockets):
            listeners.append(Listener(bases[n % 2], cookie))
        time.sleep(1.0)  # every socket joined its rooms
        spread = _measure(bases[0], token, listeners, args.tickets)
        print(f"  baseline, 1 socket on the creating process: {_percentiles(baseline)}")
        print(f"  {args.sockets} sockets on 2 processes:          {_percentiles(spread)}")
        ratio50 = statistics.median(spread) / statistics.median(baseline)
        print(f"  ratio p50: {ratio50:.2f}x the baseline")
    finally:
        for listener in listeners:
            listener.close()
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=20)


if __name__ == "__main__":
    main()
