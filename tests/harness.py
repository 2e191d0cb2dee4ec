"""The test runner behind `make test`: `python -m tests.harness [pytest args]`.

It runs the whole pytest suite twice, once on SQLite and once on a real
PostgreSQL, with a real Redis available to both runs:

- Redis: `REDIS_URL` from the environment, else a throwaway `redis-server` on a
  free loopback port (no persistence), else the Redis tests are skipped LOUDLY.
- PostgreSQL: `TEST_POSTGRES_URL` from the environment, else a throwaway cluster
  made with `initdb`/`pg_ctl` (as the `postgres` user when running as root),
  else the PostgreSQL run is skipped LOUDLY.

Environment knobs:
- `HOTLINE_TEST_BACKENDS=sqlite|postgresql` (comma-separated) runs only those.
- `HOTLINE_TEST_STRICT=1` turns every skipped service into a failure (CI sets it).
- `HOTLINE_TEST_FLUSH_REDIS=1`: the given REDIS_URL is a throwaway too, so it is
  emptied between the runs like the harness's own (CI sets it).

pytest's exit code 5 ("no tests collected") counts as a failure: a suite that
runs nothing is broken. The last line printed is `harness: N passed, M failed`.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import BinaryIO
from urllib.parse import urlsplit, urlunsplit

BACKENDS = ("sqlite", "postgresql")
TEST_DATABASE = "hotline_test"
BANNER_WIDTH = 78
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
COUNT = re.compile(
    r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?|rerun)\b"
)
PYTEST_EXIT_MEANING = {
    1: "some tests failed",
    2: "the run was interrupted",
    3: "pytest hit an internal error",
    4: "pytest was used wrongly (bad arguments or options)",
    5: "no tests were collected: a suite that runs nothing is broken",
}


def say(message: str = "") -> None:
    print(message, flush=True)


def banner(*lines: str) -> None:
    say("!" * BANNER_WIDTH)
    for line in lines:
        say(f"!! {line}")
    say("!" * BANNER_WIDTH)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Services:
    """Everything the harness started, stopped in reverse order exactly once."""

    def __init__(self) -> None:
        self._stops: list[tuple[str, Callable[[], None]]] = []
        self.skipped: list[str] = []
        atexit.register(self.stop_all)

    def skip(self, message: str) -> None:
        """Record a skipped service and say so loudly now; the summary repeats it."""
        self.skipped.append(message)
        banner(*message.splitlines())

    def on_stop(self, name: str, stop: Callable[[], None]) -> None:
        self._stops.append((name, stop))

    def stop_all(self) -> None:
        while self._stops:
            name, stop = self._stops.pop()
            try:
                stop()
            except Exception as exc:  # keep stopping the others
                say(f"harness: could not stop {name} cleanly: {exc}")


# --------------------------------------------------------------------------- Redis


def provide_redis(services: Services) -> str | None:
    url = os.environ.get("REDIS_URL")
    if url:
        say(f"harness: Redis from REDIS_URL ({redact(url)})")
        return url
    server = shutil.which("redis-server")
    if not server:
        services.skip(
            "SKIPPED: real Redis tests (redis-server not installed; apt-get install redis-server)"
        )
        return None
    workdir = tempfile.mkdtemp(prefix="hotline-redis-")
    services.on_stop("redis temp dir", lambda: shutil.rmtree(workdir, ignore_errors=True))
    port = free_port()
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            workdir,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            os.path.join(workdir, "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches pytest; the harness stops this in order
    )
    services.on_stop("redis-server", lambda: stop_process(process))
    if not wait_for_port(port, timeout=10) or process.poll() is not None:
        log = Path(workdir, "redis.log")
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        services.skip(f"SKIPPED: real Redis tests (redis-server did not start)\n{tail}")
        return None
    say(f"harness: started redis-server on 127.0.0.1:{port} (pid {process.pid})")
    return f"redis://127.0.0.1:{port}/0"


def flush_redis(url: str) -> None:
    """Empty the harness's own throwaway Redis between the two runs."""
    try:
        from redis import Redis

        Redis.from_url(url, socket_connect_timeout=2).flushall()
    except Exception as exc:
        say(f"harness: could not flush the throwaway Redis: {exc}")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


# ---------------------------------------------------------------------- PostgreSQL


@dataclass
class PgTools:
    bindir: Path
    run_as: list[str] = field(default_factory=list)  # prefix that switches to `postgres`
    owner: tuple[int, int] | None = None  # uid/gid to chown the temp dir to

    def cmd(self, tool: str, *args: str) -> list[str]:
        return [*self.run_as, str(self.bindir / tool), *args]


def find_pg_bindir() -> Path | None:
    """`initdb` and `pg_ctl` on PATH, else the newest /usr/lib/postgresql/*/bin."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        # Debian's PATH entries are symlinks into the versioned bindir; use its real home.
        bindir = Path(os.path.realpath(initdb)).parent
        if (bindir / "pg_ctl").exists():
            return bindir
    candidates = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")]
    candidates = [p for p in candidates if (p / "initdb").exists() and (p / "pg_ctl").exists()]

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))

    return max(candidates, key=version) if candidates else None


def pg_identity(bindir: Path) -> PgTools | str:
    """PostgreSQL refuses to run as root: switch to the `postgres` system user then."""
    if os.geteuid() != 0:
        return PgTools(bindir)
    try:
        import pwd

        entry = pwd.getpwnam("postgres")
    except KeyError:
        return "running as root and there is no `postgres` user to run the server as"
    runuser = shutil.which("runuser")
    if runuser:
        prefix = [runuser, "-u", "postgres", "--"]
    elif shutil.which("setpriv"):
        prefix = [
            "setpriv",
            f"--reuid={entry.pw_uid}",
            f"--regid={entry.pw_gid}",
            "--init-groups",
        ]
    else:
        return "running as root and neither runuser nor setpriv is available"
    return PgTools(bindir, run_as=prefix, owner=(entry.pw_uid, entry.pw_gid))


def provide_postgres(services: Services, settings: dict[str, str] | None = None) -> str | None:
    """Return a SQLAlchemy URL (psycopg 3 driver) of an empty-able test database.
    `settings` are server settings for a cluster this starts (a benchmark's memory)."""
    given = os.environ.get("TEST_POSTGRES_URL")
    if given:
        url = with_database(sqlalchemy_url(given))
        say(f"harness: PostgreSQL from TEST_POSTGRES_URL ({redact(url)})")
        problem = ensure_database(url)
        if problem:
            services.skip(f"SKIPPED: PostgreSQL run (TEST_POSTGRES_URL: {problem})")
            return None
        return url
    bindir = find_pg_bindir()
    if bindir is None:
        services.skip(
            "SKIPPED: PostgreSQL run (initdb/pg_ctl not found; apt-get install postgresql)"
        )
        return None
    tools = pg_identity(bindir)
    if isinstance(tools, str):
        services.skip(f"SKIPPED: PostgreSQL run ({tools})")
        return None
    try:
        return start_cluster(tools, services, settings or {})
    except ClusterError as exc:
        services.skip(f"SKIPPED: PostgreSQL run (throwaway cluster failed: {exc})")
        return None


class ClusterError(Exception):
    pass


def start_cluster(tools: PgTools, services: Services, settings: dict[str, str]) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    services.on_stop("postgres temp dir", lambda: shutil.rmtree(workdir, ignore_errors=True))
    if tools.owner:
        os.chown(workdir, *tools.owner)
    data, log = workdir / "data", workdir / "server.log"
    port = free_port()

    def run(tool: str, *args: str, timeout: float = 120) -> None:
        result = subprocess.run(
            tools.cmd(tool, *args),
            cwd=workdir,  # the postgres user may not be allowed into the caller's cwd
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
        if result.returncode != 0:
            raise ClusterError(f"{tool} exited {result.returncode}: {result.stderr[-2000:]}")

    started = time.monotonic()
    run(
        "initdb",
        "-D",
        str(data),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
    )
    options = (
        f"-k {workdir} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    ) + "".join(f" -c {name}={value}" for name, value in settings.items())

    def stop() -> None:
        subprocess.run(
            tools.cmd("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop"),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )

    services.on_stop("postgres", stop)
    try:
        run("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start")
    except ClusterError as exc:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise ClusterError(f"{exc}\n{tail}") from exc
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/{TEST_DATABASE}"
    problem = ensure_database(url)
    if problem:
        raise ClusterError(problem)
    say(
        f"harness: started PostgreSQL ({tools.bindir.parent.name}) on 127.0.0.1:{port} "
        f"in {time.monotonic() - started:.1f}s"
    )
    return url


def sqlalchemy_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def libpq_url(url: str, dbname: str | None = None) -> str:
    """The same server for psycopg itself: no `+driver` in the scheme."""
    parts = urlsplit(url)
    path = f"/{dbname}" if dbname is not None else parts.path
    return urlunsplit(("postgresql", parts.netloc, path, parts.query, parts.fragment))


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def ensure_database(url: str, timeout: float = 30) -> str | None:
    """Wait for the server and create the database if it is missing; None when all is well."""
    try:
        import psycopg
        from psycopg import sql
    except ImportError as exc:
        return f"psycopg is not installed ({exc})"
    name = urlsplit(url).path.lstrip("/")
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(libpq_url(url), connect_timeout=3):
                return None
        except psycopg.OperationalError as exc:
            last_error = str(exc).strip()
            if "does not exist" not in last_error:
                time.sleep(0.2)  # not up yet
                continue
        try:  # the server is up but the database is missing: create it
            with psycopg.connect(
                libpq_url(url, "postgres"), autocommit=True, connect_timeout=3
            ) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            pass
        except psycopg.Error as exc:
            return f"cannot create database {name}: {exc}"
    return f"server not reachable: {last_error}"


def with_database(url: str) -> str:
    """The URL with the test database's name when it names none."""
    parts = urlsplit(url)
    if parts.path.strip("/"):
        return url
    return urlunsplit((parts.scheme, parts.netloc, f"/{TEST_DATABASE}", parts.query, ""))


# ---------------------------------------------------------------------------- pytest


@dataclass
class RunResult:
    backend: str
    exit_code: int
    counts: dict[str, int]
    summary_line: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def passed(self) -> int:
        return self.counts.get("passed", 0)

    @property
    def failed(self) -> int:
        reported = self.counts.get("failed", 0) + self.counts.get("error", 0)
        # A run that broke without reporting a failure (crash, bad arguments, nothing
        # collected) still counts as one, so the closing line agrees with the exit code.
        return reported if reported or self.ok else 1


def parse_summary(text: str) -> tuple[dict[str, int], str]:
    """Counts from pytest's last summary line ("3 passed, 1 skipped in 0.1s")."""
    for raw in reversed(ANSI.sub("", text).splitlines()):
        line = raw.strip().strip("=").strip()
        if not re.search(r"\bin [\d.]+s\b", line):
            continue
        pairs = COUNT.findall(line)
        if not pairs and not line.startswith("no tests ran"):
            continue
        counts: dict[str, int] = {}
        for number, word in pairs:
            key = {"errors": "error", "warnings": "warning"}.get(word, word)
            counts[key] = counts.get(key, 0) + int(number)
        return counts, line
    return {}, ""


def run_pytest(backend: str, args: list[str], env: dict[str, str]) -> RunResult:
    say()
    say("=" * BANNER_WIDTH)
    say(f"harness: pytest on {backend.upper()}")
    say("=" * BANNER_WIDTH)
    command = [sys.executable, "-m", "pytest", *args]
    if sys.stdout.isatty() and not any(a.startswith("--color") for a in args):
        command.append("--color=yes")
    env = {**env, "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    assert process.stdout is not None
    tail = bytearray()
    out = sys.stdout.buffer
    fd = process.stdout.fileno()
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out.write(chunk)
            out.flush()
            tail += chunk
            if len(tail) > 262144:
                del tail[:-131072]
        exit_code = process.wait()
    except BaseException as exc:
        # Ctrl-C reaches pytest too (same process group); for SIGTERM/SIGHUP pass on a
        # SIGINT. Either way pytest stops and prints its report: show it, then go on.
        if not (isinstance(exc, KeyboardInterrupt) and not exc.args):
            with contextlib.suppress(OSError):
                process.send_signal(signal.SIGINT)
        with contextlib.suppress(BaseException):
            drain(fd, out, seconds=15)
        stop_process(process)
        raise
    counts, line = parse_summary(tail.decode("utf-8", errors="replace"))
    return RunResult(backend, exit_code, counts, line, time.monotonic() - started)


def drain(fd: int, out: BinaryIO, seconds: float) -> None:
    """Copy what is left of a child's output until it closes it or time runs out."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        out.write(chunk)
        out.flush()


def selected_backends() -> list[str]:
    raw = os.environ.get("HOTLINE_TEST_BACKENDS", "")
    if not raw.strip():
        return list(BACKENDS)
    aliases = {"postgres": "postgresql", "pg": "postgresql", "sqlite3": "sqlite"}
    chosen = []
    for name in (part.strip().lower() for part in raw.split(",") if part.strip()):
        name = aliases.get(name, name)
        if name not in BACKENDS:
            raise SystemExit(
                f"harness: HOTLINE_TEST_BACKENDS: unknown backend {name!r} "
                f"(choose from {', '.join(BACKENDS)})"
            )
        if name not in chosen:
            chosen.append(name)
    return chosen


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _raise_keyboard_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    # SIGTERM/SIGHUP unwind like Ctrl-C, so every server started here is stopped.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_keyboard_interrupt)
    backends = selected_backends()
    strict = env_flag("HOTLINE_TEST_STRICT")
    flush_given = env_flag("HOTLINE_TEST_FLUSH_REDIS")  # REDIS_URL is a throwaway too
    services = Services()
    results: list[RunResult] = []
    interrupted = False
    try:
        redis_url = provide_redis(services)
        postgres_url = provide_postgres(services) if "postgresql" in backends else None
        base_env = dict(os.environ)
        base_env.pop("TEST_DATABASE_URL", None)
        if redis_url:
            base_env["REDIS_URL"] = redis_url
        for backend in backends:
            env = dict(base_env)
            if backend == "postgresql":
                if not postgres_url:
                    continue
                env["TEST_DATABASE_URL"] = postgres_url
            if results and redis_url and (not os.environ.get("REDIS_URL") or flush_given):
                flush_redis(redis_url)
            results.append(run_pytest(backend, argv, env))
    except KeyboardInterrupt:
        interrupted = True
        say("\nharness: interrupted; stopping the servers it started")
    finally:
        services.stop_all()
    return report(results, services.skipped, strict=strict, interrupted=interrupted)


def report(results: list[RunResult], skipped: list[str], *, strict: bool, interrupted: bool) -> int:
    say()
    say("=" * BANNER_WIDTH)
    say("harness: summary")
    for result in results:
        verdict = "passed" if result.ok else "FAILED"
        detail = result.summary_line or "no pytest summary line"
        say(f"  {result.backend:<10} {verdict:<6} ({detail}; {result.seconds:.0f}s)")
        if not result.ok:
            meaning = PYTEST_EXIT_MEANING.get(result.exit_code, "pytest crashed")
            say(f"  {'':<10} pytest exit code {result.exit_code}: {meaning}")
    failed_runs = [r for r in results if not r.ok]
    if skipped:
        say()
        banner(*[line for entry in skipped for line in entry.splitlines()])
        if strict:
            say("harness: HOTLINE_TEST_STRICT is set: a skipped service is a failure")
    if interrupted:
        say("harness: the run was interrupted")
    say("=" * BANNER_WIDTH)
    passed = sum(r.passed for r in results)
    failed = sum(r.failed for r in results)
    say(f"harness: {passed} passed, {failed} failed")
    if not results and not interrupted:
        say("harness: no test run happened at all")
    if failed_runs or interrupted or not results or (strict and skipped):
        return 130 if interrupted and not failed_runs else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
