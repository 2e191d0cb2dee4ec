"""The question sets `python -m benchmarks.kb` measures, and its check of a set given
with --queries (a city's own questions): a malformed file or an expected article the
demo knowledge base does not have is refused before anything is measured."""

from pathlib import Path

import yaml

from benchmarks.kb.__main__ import DEMO_KB, HOLDOUTS, QUERIES, SEALED, check_queries

KNOWN = {a["id"] for a in yaml.safe_load(DEMO_KB.read_text(encoding="utf-8"))["articles"]}


def test_every_shipped_question_set_can_be_measured():
    for path in (QUERIES, *HOLDOUTS, *SEALED):
        assert check_queries(path, KNOWN) is None, path.name
        kinds = {item.get("kind") for item in yaml.safe_load(path.read_text("utf-8"))["queries"]}
        assert {"typo", "colloquial", "dialect", "long", "none"} <= kinds, path.name


def test_a_question_set_with_problems_is_refused(tmp_path: Path):
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(
        "queries:\n  - {q: 社保卡丢了, expect: kb-0002}\n  - {q: 公积金, expect: kb-9999}\n",
        encoding="utf-8",
    )
    assert check_queries(unknown, KNOWN) == "question 2 expects kb-9999, which no demo article is"
    empty_question = tmp_path / "empty.yaml"
    empty_question.write_text("queries:\n  - {q: '', expect: kb-0002}\n", encoding="utf-8")
    assert check_queries(empty_question, KNOWN) == "question 1 has no `q`"
    broken = tmp_path / "broken.yaml"
    broken.write_text("queries: [unclosed\n", encoding="utf-8")
    assert check_queries(broken, KNOWN).startswith("not a question file")
    assert check_queries(tmp_path / "missing.yaml", KNOWN).startswith("not a question file")
    unanswerable = tmp_path / "none.yaml"
    unanswerable.write_text("queries:\n  - {q: 股票怎么买, expect: null}\n", encoding="utf-8")
    assert check_queries(unanswerable, KNOWN) is None
