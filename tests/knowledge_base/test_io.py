"""`hotline kb import|export`: YAML, CSV and XLSX; every problem by row and field;
nothing half-imported; re-imports make new versions."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from hotline.errors import ImportFailed
from hotline.extensions import db
from hotline.models import Article, ArticleVersion
from knowledge_base.io import COLUMNS, export_knowledge_base, import_knowledge_base
from knowledge_base.search import search

DATA = Path(__file__).resolve().parent / "data"
SAMPLE = DATA / "kb.sample.yaml"
DEMO = Path(__file__).resolve().parents[2] / "knowledge_base" / "data" / "demo_kb.yaml"


def _articles() -> int:
    return db.session.scalar(select(func.count(Article.id)))


def test_the_sample_file_imports_and_is_searchable(catalogue):
    summary = import_knowledge_base(SAMPLE)
    assert (summary.created, summary.updated, summary.unchanged) == (5, 0, 0)
    article = db.session.scalar(select(Article).where(Article.key == "kb-9001"))
    assert article.status == "published" and article.live_number == 1
    assert article.category.code == "1702" and article.department.code == "TYJRJ"
    assert search("优待证").hits[0].article.key == "kb-9001"


def test_the_demo_knowledge_base_imports_whole(catalogue):
    summary = import_knowledge_base(DEMO)
    assert summary.created == len(yaml.safe_load(DEMO.read_text(encoding="utf-8"))["articles"])


def test_reimport_versions_only_what_changed(catalogue, tmp_path):
    import_knowledge_base(SAMPLE)
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    data["articles"][1]["answer"] += "犬只登记可在“粤省事”预约。"
    changed = tmp_path / "kb.yaml"
    changed.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    summary = import_knowledge_base(changed)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 4)
    article = db.session.scalar(select(Article).where(Article.key == "kb-9002"))
    assert article.live_number == 2
    states = db.session.scalars(
        select(ArticleVersion.state)
        .where(ArticleVersion.article_id == article.id)
        .order_by(ArticleVersion.number)
    ).all()
    assert states == ["superseded", "published"]
    assert "粤省事" in search("犬只登记预约").hits[0].snippet or search("犬只登记").hits


def test_every_problem_is_reported_by_record_and_field_and_nothing_is_written(catalogue, tmp_path):
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    data["articles"][0]["category"] = "9999"
    data["articles"][1]["id"] = "dog-1"
    data["articles"][2]["kind"] = "faq"
    data["articles"][3]["title"] = data["articles"][4]["title"]
    data["articles"][4]["effective_to"] = "2020-01-01"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ImportFailed) as refused:
        import_knowledge_base(bad)
    problems = "\n".join(refused.value.problems)
    assert "article 1 (kb-9001): category: unknown category 9999" in problems
    assert "article 2 (dog-1): id: must look like kb-0001" in problems
    assert "article 3 (kb-9003): kind:" in problems
    assert "article 5 (kb-9005): title: the same title as" in problems
    assert "article 5 (kb-9005): effective_to: is before effective_from" in problems
    assert _articles() == 0


def test_csv_and_xlsx_round_trip_with_the_same_columns(catalogue, tmp_path):
    import_knowledge_base(SAMPLE)
    for suffix in (".csv", ".xlsx", ".yaml"):
        path = tmp_path / f"kb{suffix}"
        assert export_knowledge_base(path) == 5
        summary = import_knowledge_base(path)
        assert summary.unchanged == 5, suffix
    with (tmp_path / "kb.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == COLUMNS
    guide = next(r for r in rows if r["id"] == "kb-9001")
    assert guide["materials"].startswith("居民身份证；")
    sheet = load_workbook(tmp_path / "kb.xlsx").worksheets[0]
    assert [c.value for c in sheet[1]] == list(COLUMNS)


def test_a_spreadsheet_city_file_imports(catalogue, tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(
        ["id", "kind", "title", "category", "department", "answer", "keywords", "effective_from"]
    )
    sheet.append(
        [
            "kb-0101",
            "qa",
            "新生儿怎么办理医保？",
            1004,
            "YBJ",
            "新生儿出生后可由父母在“粤医保”小程序为其办理参保登记，出生当年免缴或按规定缴费。",
            "新生儿、参保、医保",
            "2026-01-01",
        ]
    )
    path = tmp_path / "city.xlsx"
    workbook.save(path)
    import_knowledge_base(path)
    article = db.session.scalar(select(Article).where(Article.key == "kb-0101"))
    assert article.category.code == "1004"  # the number 1004 read back as a code
    assert search("新生儿参保").hits[0].article.key == "kb-0101"


def test_csv_with_a_wrong_header_is_refused(catalogue, tmp_path):
    path = tmp_path / "kb.csv"
    path.write_text("id,title,body\nkb-0001,标题,正文\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as refused:
        import_knowledge_base(path)
    assert "missing column(s) kind, answer" in refused.value.problems[0]
    assert "unknown column(s) body" in refused.value.problems[1]


def test_cli_import_export_and_refusal(app, catalogue, runner, tmp_path):
    result = runner.invoke(args=["kb", "import", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "5 created, 0 updated, 0 unchanged" in result.output
    out = tmp_path / "out.xlsx"
    result = runner.invoke(args=["kb", "export", str(out)])
    assert result.exit_code == 0 and "5 articles written" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text(",".join(COLUMNS) + "\nkb-1,qa,,0101,NOPE,,,,,,,,\n", encoding="utf-8")
    result = runner.invoke(args=["kb", "import", str(bad)])
    assert result.exit_code != 0
    assert "bad.csv: row 2: id: must look like kb-0001" in result.output
    assert "bad.csv: row 2: department: unknown department NOPE" in result.output
    result = runner.invoke(args=["kb", "import", str(tmp_path / "kb.txt")])
    assert result.exit_code != 0 and "unsupported format" in result.output


def test_cli_synonyms_reindex_and_publication_check(app, catalogue, runner):
    runner.invoke(args=["kb", "import", str(SAMPLE)])
    result = runner.invoke(args=["kb", "synonyms"])
    assert result.exit_code == 0 and "synonym groups loaded" in result.output
    assert runner.invoke(args=["kb", "reindex"]).output.startswith("5 articles re-indexed")
    assert "0 late publication(s)" in runner.invoke(args=["kb", "check-publication"]).output


def test_an_xlsx_with_errors_is_refused_by_row_and_nothing_is_imported(catalogue, tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(COLUMNS))
    good = ["kb-0201", "qa", "失业登记怎么办理？", "0301", "RSJ", "可在粤省事办理失业登记。"]
    sheet.append(good + ["失业登记"] + [""] * 6)
    sheet.append(["kb-0202", "faq", "", "0301", "RSJ", "正文"] + [""] * 7)
    sheet.append(
        ["kb-0203", "guide", "灵活就业参保", "9999", "NOPE", "正文"]
        + [""] * 2
        + ["2026-13-01"]
        + [""] * 4
    )
    path = tmp_path / "city.xlsx"
    workbook.save(path)
    with pytest.raises(ImportFailed) as refused:
        import_knowledge_base(path)
    problems = refused.value.problems
    assert "city.xlsx: row 3: kind: must be one of qa, guide, policy, notice" in problems
    assert "city.xlsx: row 3: title: is required" in problems
    assert "city.xlsx: row 4: category: unknown category 9999" in problems
    assert "city.xlsx: row 4: department: unknown department NOPE" in problems
    assert "city.xlsx: row 4: effective_from: must be a date YYYY-MM-DD" in problems
    assert not any("row 2" in p for p in problems)
    assert _articles() == 0  # the good row 2 was not imported either


def _with_questions(tmp_path: Path, questions: list[str] | None) -> Path:
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    article = next(a for a in data["articles"] if a["id"] == "kb-9002")
    if questions is None:
        article.pop("questions", None)
    else:
        article["questions"] = questions
    path = tmp_path / "kb.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_similar_questions_import_export_and_version(catalogue, tmp_path):
    asked = ["养条狗要不要去上户口，在哪办", "狗牌去边度领"]  # ， inside a question is kept
    import_knowledge_base(_with_questions(tmp_path, None))
    summary = import_knowledge_base(_with_questions(tmp_path, asked))
    assert (summary.updated, summary.unchanged) == (1, 4)  # a new version of kb-9002 only
    article = db.session.scalar(select(Article).where(Article.key == "kb-9002"))
    assert article.live_number == 2
    assert article.versions[-1].questions == asked
    for suffix in (".csv", ".xlsx", ".yaml"):
        path = tmp_path / f"out{suffix}"
        export_knowledge_base(path)
        assert import_knowledge_base(path).unchanged == 5, suffix
    with (tmp_path / "out.csv").open(encoding="utf-8-sig") as handle:
        row = next(r for r in csv.DictReader(handle) if r["id"] == "kb-9002")
    assert row["questions"] == "；".join(asked)
    assert COLUMNS[-1] == "questions"  # appended: scripts reading columns by position still work


def test_overlong_or_too_many_similar_questions_are_refused(catalogue, tmp_path):
    with pytest.raises(ImportFailed) as refused:
        import_knowledge_base(_with_questions(tmp_path, ["狗" * 101]))
    assert any("kb-9002" in p and "questions" in p for p in refused.value.problems)
    with pytest.raises(ImportFailed) as refused:
        import_knowledge_base(_with_questions(tmp_path, [f"问题{i}" for i in range(31)]))
    assert any("questions: at most 30 similar questions" in p for p in refused.value.problems)
    assert _articles() == 0
