"""`python -m benchmarks.kb --postgres` measures on a throwaway cluster with the memory a
city's server would have (POSTGRES_SETTINGS): the harness starts it with those settings."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine

from benchmarks.kb.__main__ import POSTGRES_SETTINGS
from tests.harness import Services, find_pg_bindir, provide_postgres


@pytest.mark.skipif(
    not (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgresql"),
    reason="starts a PostgreSQL cluster: run once, in the PostgreSQL run",
)
@pytest.mark.skipif(find_pg_bindir() is None, reason="initdb/pg_ctl are not installed")
def test_the_benchmarks_cluster_gets_the_memory_it_asks_for(monkeypatch):
    monkeypatch.delenv("TEST_POSTGRES_URL", raising=False)  # a cluster of its own
    services = Services()
    try:
        url = provide_postgres(services, POSTGRES_SETTINGS)
        assert url is not None, services.skipped
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                shown = connection.exec_driver_sql("SHOW shared_buffers").scalar()
        finally:
            engine.dispose()
        assert shown == POSTGRES_SETTINGS["shared_buffers"]
    finally:
        services.stop_all()
