"""`hotline serve` (web + Socket.IO + its worker) and `hotline worker` (RQ + outbox relay).

`serve` is the one-machine mode of `make run`: without a configured `REDIS_URL` it
starts the embedded Redis first (`hotline.embedded`), then creates the app, so the
app, Socket.IO's message queue and the worker child all use that Redis.
`worker` runs anywhere that reaches the same database and Redis; run as many as needed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import click
from flask import Flask, current_app, has_app_context

log = logging.getLogger(__name__)

# Set by `serve` in its worker children: a worker whose parent is gone stops itself.
SERVE_PID_ENV = "HOTLINE_SERVE_PID"
WORKER_STOP_TIMEOUT = 30.0


def _configured_redis_url() -> str | None:
    """REDIS_URL from the loaded app's config (environment or instance file)."""
    if has_app_context() and current_app.config.get("REDIS_URL"):
        return str(current_app.config["REDIS_URL"])
    return os.environ.get("REDIS_URL") or None


def _instance_path() -> Path:
    if has_app_context():
        return Path(current_app.instance_path)
    # The same choice `create_app` makes, without building a whole app.
    chosen = os.environ.get("HOTLINE_INSTANCE_PATH") or None
    return Path(Flask("hotline", instance_path=chosen).instance_path)


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {host}:{port} ({exc.strerror}); "
                "is another server running? choose another with --port"
            ) from exc


def _public_urls(host: str, port: int) -> list[str]:
    if host in {"0.0.0.0", "::", ""}:
        return [f"http://127.0.0.1:{port}/", f"http://{socket.gethostname()}:{port}/"]
    shown = f"[{host}]" if ":" in host else host
    return [f"http://{shown}:{port}/"]


def _start_worker_child() -> subprocess.Popen[bytes]:
    """One `hotline worker` child with this process's environment (REDIS_URL included)."""
    env = {**os.environ, SERVE_PID_ENV: str(os.getpid())}
    env.pop("FLASK_RUN_FROM_CLI", None)
    return subprocess.Popen(
        [sys.executable, "-c", "from hotline.cli import main; main(prog_name='hotline')", "worker"],
        env=env,
        stdin=subprocess.DEVNULL,
        # Its own session: Ctrl-C reaches only `serve`, which then stops the worker
        # with one SIGTERM (a warm shutdown: a running job is finished first).
        start_new_session=True,
    )


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(WORKER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            click.echo(f"worker {child.pid} did not stop in time: killing it", err=True)
            child.kill()
            child.wait()


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers",
    "workers_count",
    default=1,
    show_default=True,
    type=click.IntRange(min=0),
    help="RQ worker child processes to start with the web server.",
)
@click.option(
    "--no-worker",
    is_flag=True,
    help="Start no worker (same as --workers 0): run `hotline worker` elsewhere.",
)
def serve_command(host: str, port: int, workers_count: int, no_worker: bool) -> None:
    """Run the web app with Socket.IO, an embedded Redis if none is configured, and a worker."""
    from hotline.embedded import start_redis

    _check_port_free(host, port)
    if not _configured_redis_url():
        redis_dir = _instance_path() / "redis"
        os.environ["REDIS_URL"] = start_redis(redis_dir)
        click.echo(f"no REDIS_URL configured: started the embedded Redis ({redis_dir})")

    # Created only now, so its config, Socket.IO's message queue and the workers
    # all see the REDIS_URL chosen above.
    from hotline import create_app
    from hotline.extensions import socketio

    app = create_app()
    from hotline import warmup

    warmup.start(app)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    children: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(0 if no_worker else workers_count):
            children.append(_start_worker_child())
        if children:
            pids = ", ".join(str(child.pid) for child in children)
            click.echo(f"started {len(children)} worker process(es): pid {pids}")
        else:
            click.echo("no worker started: jobs wait in Redis until `hotline worker` runs")
        click.echo("")
        for url in _public_urls(host, port):
            click.secho(f"12345 Hotline is running at {url}", fg="green", bold=True)
        click.echo("Press Ctrl+C to stop.\n")
        # Flask ignores app.run() under its CLI unless this is cleared.
        os.environ.pop("FLASK_RUN_FROM_CLI", None)
        socketio.run(
            app,
            host=host,
            port=port,
            allow_unsafe_werkzeug=True,
            use_reloader=False,
            debug=False,
        )
    except KeyboardInterrupt:
        pass
    finally:
        if children:
            click.echo("stopping the worker(s) ...")
            _stop_children(children)
        click.echo("12345 Hotline stopped.")


# ----------------------------------------------------------------------------- worker


def _worker_app() -> Flask:
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]
    from hotline import create_app

    app = create_app()
    app.app_context().push()
    return app


def _fresh_connections_after_fork(app: Flask) -> None:
    """RQ runs each job in a fork: the child must not reuse the parent's DB connections."""
    from hotline.extensions import db

    with app.app_context():
        engines = list(db.engines.values())

    def reset() -> None:
        for engine in engines:
            engine.dispose(close=False)  # drop the parent's pool without touching its sockets
        with contextlib.suppress(RuntimeError):  # no app context: no session to forget
            db.session.registry.clear()  # forget (do not close) any inherited session

    os.register_at_fork(after_in_child=reset)


class OutboxRelayThread(threading.Thread):
    """Every `interval` seconds: hand pending outbox rows to Redis (catch-up relay).

    It also watches the parent when started by `hotline serve`: if serve is gone,
    the worker is asked to stop (SIGTERM to itself: RQ's warm shutdown).

    RQ forks a work horse per job. A fork while this thread holds a lock (an import
    lock, a pool or libpq lock) would leave the horse waiting forever on it, so a
    fork waits for the current relay round to finish (`install_fork_guard`).
    """

    def __init__(self, app: Flask, interval: float, relay: Callable[[], int]) -> None:
        super().__init__(name="outbox-relay", daemon=True)
        self.app = app
        self.interval = interval
        self.relay = relay
        self.stopping = threading.Event()
        self.last_problem: str | None = None
        self.busy = threading.Lock()  # held during a relay round
        serve_pid = os.environ.get(SERVE_PID_ENV)
        self.serve_pid = int(serve_pid) if serve_pid and serve_pid.isdigit() else None

    def run(self) -> None:
        next_relay = 0.0
        elapsed = 0.0
        while not self.stopping.is_set():
            if self.serve_pid is not None and os.getppid() != self.serve_pid:
                log.warning("hotline serve (pid %s) is gone: stopping this worker", self.serve_pid)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            if self.interval > 0 and elapsed >= next_relay:
                self.relay_once()
                next_relay = elapsed + self.interval
            self.stopping.wait(1.0)
            elapsed += 1.0

    def install_fork_guard(self) -> None:
        os.register_at_fork(
            before=self.busy.acquire,
            after_in_parent=self.busy.release,
            after_in_child=self.busy.release,
        )

    def relay_once(self) -> None:
        try:
            with self.busy, self.app.app_context():
                relayed = self.relay()
        except Exception as exc:  # a locked database or Redis hiccup: try again next round
            problem = f"{type(exc).__name__}: {exc}".splitlines()[0]
            if problem != self.last_problem:  # the traceback once, not every few seconds
                log.exception("outbox relay failed; retrying every %gs", self.interval)
            else:
                log.debug("outbox relay still failing: %s", problem)
            self.last_problem = problem
            return
        if self.last_problem:
            log.info("outbox relay works again")
            self.last_problem = None
        if relayed:
            log.info("outbox relay: %d item(s) handed to Redis", relayed)

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=10)


@click.command("worker")
@click.option(
    "--queue",
    "queue_names",
    multiple=True,
    default=("hotline",),
    show_default=True,
    help="Queue to work on (repeatable).",
)
@click.option("--burst", is_flag=True, help="Work until the queues are empty, then exit.")
@click.option(
    "--relay-interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds between outbox catch-up relays (0: off).",
)
@click.option(
    "--scheduler/--no-scheduler",
    default=True,
    show_default=True,
    help="Also run RQ's scheduler (enqueue_in/enqueue_at, retries with intervals).",
)
def worker_command(
    queue_names: tuple[str, ...], burst: bool, relay_interval: float, scheduler: bool
) -> None:
    """Run an RQ worker for the hotline's jobs, plus the outbox catch-up relay."""
    from redis.exceptions import RedisError
    from rq import Queue, Worker

    from hotline.jobs import catch_up
    from hotline.queue import redis_connection

    app = _worker_app()
    if not app.config.get("REDIS_URL"):
        raise click.ClickException(
            "REDIS_URL is not configured: set it (for example REDIS_URL=redis://127.0.0.1:6379/0) "
            "in the environment or instance/hotline.cfg; `hotline serve` starts an embedded "
            "Redis and its own worker when none is configured"
        )
    with app.app_context():
        connection = redis_connection()
        try:
            connection.ping()
        except RedisError as exc:
            raise click.ClickException(
                f"Redis at {app.config['REDIS_URL']} is not reachable: {exc}"
            ) from exc
    queues = [Queue(name, connection=connection) for name in queue_names]
    worker = Worker(queues, connection=connection)
    _fresh_connections_after_fork(app)

    relay = OutboxRelayThread(app, relay_interval, catch_up)
    relay.install_fork_guard()
    relay.start()
    relaying = f"outbox relay every {relay_interval:g}s" if relay_interval else "outbox relay off"
    click.echo(
        f"worker {worker.name} (pid {os.getpid()}) on queue(s) {', '.join(queue_names)}; {relaying}"
    )
    try:
        worker.work(burst=burst, with_scheduler=scheduler, logging_level=_log_level(app))
    finally:
        relay.stop()


def _log_level(app: Flask) -> str:
    level: Any = app.config.get("LOG_LEVEL", "INFO")
    return logging.getLevelName(level) if isinstance(level, int) else str(level).upper()
