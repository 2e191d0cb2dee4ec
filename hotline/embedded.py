"""The embedded Redis for one-machine mode (`make run`): Debian's redis-server when
installed, otherwise fakeredis's TCP server, so RQ and Socket.IO run unchanged."""

from __future__ import annotations

import atexit
import logging
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start on port {port}")


def start_redis(data_dir: Path) -> str:
    """Start a private Redis for this process tree and return its URL."""
    port = free_port()
    server = shutil.which("redis-server")
    if server:
        data_dir.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            [
                server,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data_dir),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: Ctrl-C stops `serve` first, which stops its worker, and
            # only then (atexit) this Redis, so the worker never loses it mid-shutdown.
            start_new_session=True,
        )
        atexit.register(process.terminate)
        log.info("embedded redis-server on port %s (data in %s)", port, data_dir)
    else:
        from fakeredis import TcpFakeServer

        fake = TcpFakeServer(("127.0.0.1", port), server_type="redis")
        threading.Thread(target=fake.serve_forever, daemon=True, name="fakeredis").start()
        atexit.register(fake.shutdown)
        log.warning(
            "redis-server is not installed: using fakeredis's in-memory server on port %s "
            "(queued jobs are lost on restart; install redis-server for durability)",
            port,
        )
    _wait_for(port)
    return f"redis://127.0.0.1:{port}/0"
