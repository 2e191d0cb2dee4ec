"""Engine set-up per backend, and the after-commit hook that relays the outbox."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from hotline.extensions import db


def init_app(app: Flask) -> None:
    with app.app_context():
        engine: Engine = db.engine
        if engine.dialect.name == "sqlite":

            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA busy_timeout=10000")
                # FULL: a committed ticket survives a power cut (the demo loader lowers it).
                level = app.config.get("SQLITE_SYNCHRONOUS", "FULL")
                cursor.execute(f"PRAGMA synchronous={level}")
                # Reads (the knowledge base's full-text index above all) straight from
                # memory-mapped pages, and a larger page cache per connection.
                cursor.execute(f"PRAGMA mmap_size={int(app.config['SQLITE_MMAP_BYTES'])}")
                cursor.execute(f"PRAGMA cache_size=-{int(app.config['SQLITE_CACHE_KIB'])}")
                cursor.close()

            _begin_immediate(engine)


def _begin_immediate(engine: Engine) -> None:
    """SQLite: take the write lock at BEGIN so concurrent writers queue instead of failing.

    pysqlite's default deferred transactions upgrade read locks to write locks
    mid-transaction, which SQLite refuses with "database is locked" under load.
    """

    @event.listens_for(engine, "connect")
    def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def after_commit_hooks(session: Session) -> list[Any]:
    return session.info.setdefault("after_commit", [])


def insert_once(model: Any, unique: list[str], **values: Any) -> int | None:
    """INSERT … ON CONFLICT (`unique`) DO NOTHING in the caller's transaction: the new
    row's id, or None when the row exists (another round or worker made it first).
    PostgreSQL and SQLite both; what makes an alert or a claim happen exactly once."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=unique)
        .returning(model.id)
    )
    return db.session.execute(statement).scalar()  # type: ignore[no-any-return]
