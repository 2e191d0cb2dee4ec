"""The index records the text analysis it was built with; when an upgrade reads text
differently (a new Cantonese word folded into Mandarin, a new jieba), a worker re-indexes
every article once, so articles are cut the way questions now are."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import yaml
from sqlalchemy import select

import routing.text
from hotline.extensions import db
from hotline.models import Article, IndexState, SearchDocument, utcnow
from knowledge_base.index import document_frequencies
from knowledge_base.io import import_knowledge_base
from knowledge_base.reindex import (
    analysis_fingerprint,
    index_is_current,
    reindex_if_stale,
    schedule_reindex,
)
from tests.knowledge_base.test_search import _first, _one_article


@pytest.fixture(autouse=True)
def _fresh_fingerprint() -> Iterator[None]:
    analysis_fingerprint.cache_clear()
    yield
    analysis_fingerprint.cache_clear()


def _fold_also(monkeypatch: pytest.MonkeyPatch, word: str, mandarin: str) -> None:
    """What an upgrade that folds one more Cantonese word does to normalisation."""
    table = {**routing.text.CANTONESE, word: mandarin}
    pattern = re.compile("|".join(sorted(map(re.escape, table), key=len, reverse=True)))
    monkeypatch.setattr(routing.text, "CANTONESE", table)
    monkeypatch.setattr(routing.text, "_CANTONESE_RE", pattern)
    analysis_fingerprint.cache_clear()


def _keyword_terms() -> set[str]:
    return set(db.session.scalars(select(SearchDocument.keyword_terms)).one().split())


def test_the_fingerprint_follows_the_folding_tables(monkeypatch):
    before = analysis_fingerprint()
    assert before == analysis_fingerprint()
    _fold_also(monkeypatch, "犬牌", "狗牌")
    assert analysis_fingerprint() != before


def test_an_index_built_by_another_analysis_is_rebuilt_once(catalogue, tmp_path, monkeypatch):
    import_knowledge_base(_one_article(tmp_path, ["养条狗要不要去上户口"]))
    assert reindex_if_stale() == 1  # a database upgraded to 0010: its analysis unknown
    assert index_is_current() and reindex_if_stale() is None
    assert "犬牌" in _keyword_terms()

    _fold_also(monkeypatch, "犬牌", "狗牌")  # the upgrade
    assert not index_is_current()
    assert _first("狗牌") is None  # the question is folded; the article is not yet

    assert reindex_if_stale() == 1
    db.session.commit()
    assert index_is_current()
    assert "狗牌" in _keyword_terms() and "犬牌" not in _keyword_terms()
    assert document_frequencies(["狗牌", "犬牌"]) == {"狗牌": 1, "犬牌": 0}
    assert _first("狗牌") == "kb-0301"
    assert _first("犬牌") == "kb-0301"  # a question in the old word is folded too
    assert reindex_if_stale() is None


def test_an_empty_index_only_records_the_analysis(app):
    assert db.session.get(IndexState, 1) is None  # tables emptied: nothing known
    assert reindex_if_stale() == 0
    state = db.session.get(IndexState, 1)
    assert state is not None and state.analysis == analysis_fingerprint()
    assert state.indexed_at is not None


def test_a_worker_is_asked_to_reindex_once(catalogue, tmp_path, queue, monkeypatch):
    from hotline.jobs import catch_up, reindex_knowledge_base

    import_knowledge_base(_one_article(tmp_path, []))
    db.session.commit()
    catch_up()  # every worker's periodic round asks
    job_id = f"kb-reindex-{analysis_fingerprint()}"
    assert job_id in queue.job_ids
    assert schedule_reindex() is None  # asked again: the same job
    assert queue.fetch_job(job_id).func_name == "hotline.jobs.reindex_knowledge_base"

    assert reindex_knowledge_base() == 1
    assert index_is_current()
    db.session.rollback()  # a worker's round starts with no transaction open
    queue.empty()
    catch_up()
    assert queue.job_ids == []  # current: nothing more to do

    _fold_also(monkeypatch, "犬牌", "狗牌")
    assert schedule_reindex() == f"kb-reindex-{analysis_fingerprint()}"
    assert reindex_knowledge_base() == 1
    assert "狗牌" in _keyword_terms()


def test_the_reindex_command_records_the_analysis(catalogue, tmp_path, runner):
    import_knowledge_base(_one_article(tmp_path, []))
    db.session.commit()
    assert not index_is_current()
    result = runner.invoke(args=["kb", "reindex"])
    assert result.exit_code == 0, result.output
    assert "1 articles re-indexed" in result.output
    db.session.remove()
    assert index_is_current()


def test_a_worker_reindexes_in_batches_and_records_the_analysis_at_the_end(catalogue, monkeypatch):
    """SQLite has one writer: a worker commits every REINDEX_BATCH articles, so a call
    coming in waits for a batch, not for the whole knowledge base."""
    import knowledge_base.reindex as reindex_module
    from knowledge_base.io import import_knowledge_base
    from knowledge_base.synonyms import load_file, replace_synonyms
    from tests.knowledge_base.test_search import DEMO

    replace_synonyms(load_file(), actor=None)
    import_knowledge_base(DEMO)
    db.session.commit()
    searchable = db.session.scalar(select(db.func.count()).select_from(SearchDocument))
    commits = []
    monkeypatch.setattr(reindex_module, "REINDEX_BATCH", 40)
    monkeypatch.setattr(db.session, "commit", lambda: commits.append(index_is_current()))
    _fold_also(monkeypatch, "犬牌", "狗牌")
    assert reindex_if_stale() == searchable
    assert len(commits) == searchable // 40 + 1  # between batches, and the last
    # The analysis is recorded only with the last commit, once every article is done.
    assert not any(commits[:-1]) and commits[-1]


def test_a_process_learns_the_keywords_published_before_it_started(
    catalogue, tmp_path, monkeypatch
):
    """Another process published the article: this one reads every published keyword
    when it first searches, and then reads a typo of one as the keyword."""
    import knowledge_base.index as index_module
    from knowledge_base.text import Analyzer

    import_knowledge_base(_one_article(tmp_path, []))
    db.session.commit()
    assert index_module._published_keywords() == {"犬只登记", "犬牌"}
    monkeypatch.setattr(index_module, "_analyzer", Analyzer())  # a process just started
    index_module.forget_vocabulary()
    query = index_module.analyzer().query("犬排去哪里领")  # 牌 typed 排
    assert any(unit.word == "犬排" and "犬牌" in unit.terms for unit in query.units)
    index_module.forget_vocabulary()  # the real analyzer, back after the test, reloads


def test_a_process_notices_what_another_published_or_withdrew(catalogue, tmp_path, monkeypatch):
    """Each process checks every few seconds whether the vocabulary changed elsewhere
    (the latest publication and withdrawal, the number of searchable articles, the
    synonyms): another process's publication or withdrawal makes it read the published
    keywords again, and an unchanged vocabulary is not read again."""
    import knowledge_base.index as index_module

    import_knowledge_base(_one_article(tmp_path, []))
    db.session.commit()
    index_module.forget_vocabulary()
    index_module.analyzer()
    reads: list[int] = []
    keywords = index_module._published_keywords
    monkeypatch.setattr(index_module, "_published_keywords", lambda: reads.append(1) or keywords())

    def seconds_later() -> None:  # this process's last check is past its time to live
        index_module._vocabulary["checked"] = 0.0

    seconds_later()
    index_module.analyzer()
    assert reads == []  # nothing changed: nothing read

    # Another process publishes an article.
    stale = index_module._vocabulary["signature"]
    other = yaml.safe_load(_one_article(tmp_path, []).read_text(encoding="utf-8"))
    other["articles"][0].update(id="kb-0302", title="猫只登记怎么办理？", keywords=["猫只登记"])
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(other, allow_unicode=True), encoding="utf-8")
    import_knowledge_base(path)
    db.session.commit()
    index_module._vocabulary["signature"] = stale  # what this process knew
    seconds_later()
    index_module.analyzer()
    assert reads == [1]

    # ... and withdraws one.
    article = db.session.scalars(select(Article).where(Article.key == "kb-0302")).one()
    article.status, article.withdrawn_at = "withdrawn", utcnow()
    db.session.commit()
    seconds_later()
    index_module.analyzer()
    assert reads == [1, 1]
    index_module.forget_vocabulary()
