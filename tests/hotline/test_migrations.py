"""Migrations: upgrade from empty, downgrade one step and back, and agree with the models."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from hotline import create_app
from hotline.extensions import db
from tests.conftest import base_config


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    """A database of its own (the suite's shared one must not be dropped under it)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    name = f"hotline_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _tables(engine_url: str) -> set[str]:
    engine = create_engine(engine_url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _columns(engine_url: str) -> set[str]:
    """Every table.column: a step that only adds columns changes this, not the tables."""
    engine = create_engine(engine_url)
    try:
        found = inspect(engine)
        return {
            f"{table}.{column['name']}"
            for table in found.get_table_names()
            if table != "alembic_version"
            for column in found.get_columns(table)
        }
    finally:
        engine.dispose()


def test_upgrade_from_empty_downgrade_one_step_and_upgrade_again(empty_database, tmp_path):
    app = create_app({**base_config(tmp_path), "SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        upgrade()
        newest = _columns(empty_database)
        assert {"ticket", "event", "outbox_item", "assignment", "call_record"} <= _tables(
            empty_database
        )
        downgrade(revision="-1")
        one_step_back = _columns(empty_database)
        assert "ticket.reference" in one_step_back
        assert one_step_back <= newest  # the newest step may change storage, not columns
        upgrade()
        assert _columns(empty_database) == newest
        downgrade(revision="base")
        assert _tables(empty_database) == set()
        db.engine.dispose()


def test_models_and_migrations_agree(app):
    """Autogenerate finds nothing to do: no model change is missing a migration."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        differences = compare_metadata(context, db.metadata)
    assert [d for d in differences if not _search_only(d)] == []


def _search_only(difference: tuple) -> bool:
    """The full-text search objects of migrations 0004 and 0008, which no model describes."""
    kind, *rest = difference
    if kind == "remove_table":
        return "_fts" in rest[0].name
    if kind == "remove_index":
        return rest[0].name in ("ix_kb_search_document_vector", "ix_kb_search_document_subject")
    if kind == "remove_column":
        return rest[2].name in ("search_vector", "subject_vector")
    return False


def test_upgrading_a_database_with_data_keeps_it(empty_database, tmp_path):
    """A city upgrades a database full of tickets: every revision must carry rows along."""
    from hotline.tickets.service import NewTicket, open_ticket

    app = create_app({**base_config(tmp_path), "SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        upgrade(revision="0001")
        # rows written by the 0001 schema (only its columns)
        db.session.execute(
            text(
                "INSERT INTO contact (phone_hash, phone, name, caller_type, created_at) "
                "VALUES ('h1', 'enc', NULL, 'person', CURRENT_TIMESTAMP)"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO ticket (reference, status, channel, type, urgency, title, content,"
                " tags,"
                " received_at, contact_id, confidential, anonymous, wants_reply, dispatch_round,"
                " designated, deadline_provisional, extension_count, visit_attempts, redo_count,"
                " is_repeat, urge_count, supervise_count, updated_at) VALUES ('R1', 'accepted',"
                " 'phone', 'consult', 'general', 't', 'c', '[]', CURRENT_TIMESTAMP, 1, false,"
                " false, true, 0, false, false, 0, 0, 0, false, 0, 0, CURRENT_TIMESTAMP)"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO message (ticket_id, direction, channel, body, status, at) "
                "VALUES (1, 'inbound', 'sms', 'hi', 'received', CURRENT_TIMESTAMP)"
            )
        )
        db.session.commit()
        upgrade()
        assert db.session.execute(text("SELECT reference FROM ticket")).scalar_one() == "R1"
        assert db.session.execute(text("SELECT kind FROM message")).scalar_one() == "free"
        assert db.session.execute(text("SELECT sms_opt_out FROM contact")).scalar_one() in (
            0,
            False,
        )
        open_ticket(NewTicket(channel="api", type="consult", urgency="general", content="新"), None)
        db.session.remove()
        db.engine.dispose()


def test_upgrading_gives_searchable_articles_their_story_terms(empty_database, tmp_path):
    """Migration 0009 cuts the whole text of every article already searchable, so long
    questions are ranked the new way from the first search after the upgrade."""
    import yaml

    from knowledge_base.index import article_story_terms
    from knowledge_base.io import import_knowledge_base
    from routing.catalogue import import_catalogue
    from tests.conftest import CATALOGUE

    article = {
        "id": "kb-0301",
        "kind": "guide",
        "title": "犬只登记办理指南",
        "category": "0705",
        "department": "GAJ",
        "answer": "在城区饲养犬只，犬主应当为犬只接种**疫苗**并办理登记，领取犬牌。",
        "keywords": ["犬只登记", "犬牌"],
        "questions": ["养狗要去哪里登记"],
        "materials": ["犬只免疫证明"],
        "effective_from": "2026-01-01",
    }
    path = tmp_path / "kb.yaml"
    path.write_text(yaml.safe_dump({"articles": [article]}, allow_unicode=True), encoding="utf-8")
    app = create_app({**base_config(tmp_path), "SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        upgrade()
        import_catalogue(CATALOGUE, imported_by="tests")
        import_knowledge_base(path)
        db.session.remove()
        downgrade(revision="0008")
        upgrade()
        kept = db.session.execute(text("SELECT story_terms FROM kb_search_document")).scalar_one()
        assert kept == article_story_terms(
            article["title"],
            article["keywords"],
            article["questions"],
            article["answer"],
            article["materials"],
        )
        assert {"犬只", "疫苗", "养狗", "免疫"} <= set(kept.split())
        db.session.remove()
        db.engine.dispose()


def _toasted(engine_url: str) -> int:
    """How many values of kb_search_document are stored out of line (its TOAST table),
    once the values rows no longer use are vacuumed away."""
    engine = create_engine(engine_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("VACUUM kb_search_document"))
            toast = conn.execute(
                text("SELECT reltoastrelid::regclass FROM pg_class WHERE relname = :t"),
                {"t": "kb_search_document"},
            ).scalar_one()
            return conn.execute(text(f"SELECT count(DISTINCT chunk_id) FROM {toast}")).scalar_one()
    finally:
        engine.dispose()


def test_upgrading_keeps_an_articles_terms_in_its_row(empty_database, tmp_path):
    """Migration 0011 (PostgreSQL): a candidate's terms are read with its row, not
    fetched from out of line one column at a time; rows indexed before the upgrade are
    written again the new way."""
    if not empty_database.startswith("postgresql"):
        pytest.skip("TOAST is PostgreSQL's; SQLite is unchanged by 0011")
    from knowledge_base.io import import_knowledge_base
    from routing.catalogue import import_catalogue
    from tests.conftest import CATALOGUE

    app = create_app({**base_config(tmp_path), "SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        upgrade(revision="0010")
        import_catalogue(CATALOGUE, imported_by="tests")
        # The demo city's articles: most have more than 2 kB of terms.
        import_knowledge_base(Path(__file__).parents[2] / "knowledge_base/data/demo_kb.yaml")
        db.session.remove()
        before = _toasted(empty_database)
        assert before > 0  # the default target put text columns out of line
        upgrade()
        # Only the longest articles (several kB of terms even compressed) keep some out
        # of line: 63 values of 720 when the demo articles had 15 similar questions
        # each, 288 of 721 with 25.
        assert _toasted(empty_database) < before / 2
        downgrade(revision="0010")
        assert _toasted(empty_database) >= before / 2
        db.session.remove()
        db.engine.dispose()
