"""`hotline kb import|export`: the knowledge base as YAML (DESIGN.md's format, as in
kb.sample.yaml), and the same columns as CSV and XLSX, which is where cities keep it.

An import is checked whole before anything is written: every problem is reported by
row and field and nothing is half-imported. Re-importing updates articles by id: a
changed article gets a new version, an unchanged one is left alone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from hotline.errors import ImportFailed, InvalidInput
from hotline.extensions import db
from hotline.models import Article, ArticleVersion, User
from knowledge_base.articles import KEY_PATTERN, clean_content, import_content
from knowledge_base.index import optimize_index

COLUMNS = (
    "id",
    "kind",
    "title",
    "category",
    "department",
    "answer",
    "keywords",
    "materials",
    "effective_from",
    "effective_to",
    "issuing_unit",
    "document_number",
    "channels",
    "questions",  # added after the first release: last, so positional scripts still work
)
REQUIRED = ("id", "kind", "title", "answer")
FORMATS = (".yaml", ".yml", ".csv", ".xlsx")
# Spreadsheet lists: one cell, items separated by "；" (export) or any of ; ， 、 newline.
LIST_SEPARATOR = "；"


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    keys: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInput(
            f"{path.name}: unsupported format (use {', '.join(FORMATS)})",
            f"{path.name}：不支持的文件格式（支持 yaml、csv、xlsx）",
        )
    return "yaml" if suffix in (".yaml", ".yml") else suffix[1:]


# --- reading --------------------------------------------------------------------------


def read_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(location, record) for every article in the file; location names row or item."""
    kind = _format(path)
    if not path.exists():
        raise InvalidInput(f"{path}: no such file", f"{path}：文件不存在")
    if kind == "yaml":
        return _read_yaml(path)
    if kind == "csv":
        return _read_csv(path)
    return _read_xlsx(path)


def _read_yaml(path: Path) -> list[tuple[str, dict[str, Any]]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ImportFailed([f"{path.name}: not valid UTF-8 YAML: {exc}"]) from exc
    articles = data.get("articles") if isinstance(data, dict) else None
    if not isinstance(articles, list):
        raise ImportFailed([f"{path.name}: a top-level 'articles' list is required"])
    rows = []
    for number, item in enumerate(articles, start=1):
        where = f"{path.name}: article {number}"
        if not isinstance(item, dict):
            rows.append((where, {"__invalid__": "is not a mapping"}))
            continue
        rows.append((f"{where} ({item.get('id', '?')})", item))
    return rows


def _read_csv(path: Path) -> list[tuple[str, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFailed([f"{path.name}: not UTF-8 text (save the CSV as UTF-8)"]) from exc
    reader = csv.DictReader(io.StringIO(text))
    _check_header(path, reader.fieldnames or [])
    return [
        (f"{path.name}: row {number}", _strip(row))
        for number, row in enumerate(reader, start=2)
        if any((v or "").strip() for v in row.values() if isinstance(v, str))
    ]


def _read_xlsx(path: Path) -> list[tuple[str, dict[str, Any]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise ImportFailed([f"{path.name}: not a readable XLSX workbook ({exc})"]) from exc
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [str(c).strip() if c is not None else "" for c in next(rows, ())]
        _check_header(path, header)
        out = []
        for number, values in enumerate(rows, start=2):
            record = {
                name: values[i] if i < len(values) else None
                for i, name in enumerate(header)
                if name
            }
            if any(v not in (None, "") for v in record.values()):
                out.append((f"{path.name}: row {number}", _strip(record)))
        return out
    finally:
        workbook.close()


def _check_header(path: Path, header: Iterable[str]) -> None:
    names = [h.strip() for h in header if h]
    missing = [c for c in REQUIRED if c not in names]
    unknown = [c for c in names if c not in COLUMNS]
    problems = []
    if missing:
        problems.append(f"{path.name}: header: missing column(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"{path.name}: header: unknown column(s) {', '.join(unknown)}")
    if problems:
        raise ImportFailed(problems)


def _strip(record: dict[str, Any]) -> dict[str, Any]:
    out = {
        k.strip(): (v.strip() if isinstance(v, str) else v)
        for k, v in record.items()
        if isinstance(k, str)
    }
    # A spreadsheet turns category 0504 into the number 504: codes are 4 digits.
    if isinstance(out.get("category"), int | float):
        out["category"] = f"{int(out['category']):04d}"
    return out


# --- importing --------------------------------------------------------------------------


def import_knowledge_base(
    path: Path,
    *,
    actor: User | None = None,
    publish: bool = True,
    progress: Callable[[Iterator[Any]], Iterator[Any]] | None = None,
) -> ImportSummary:
    """Check every record of PATH, then write them all in one transaction."""
    rows = read_rows(path)
    problems: list[str] = []
    checked: list[tuple[str, dict[str, Any]]] = []
    keys: dict[str, str] = {}
    titles: dict[str, str] = {}
    for where, record in _iterate(rows, progress, "checking"):
        if "__invalid__" in record:
            problems.append(f"{where}: {record['__invalid__']}")
            continue
        key = str(record.get("id") or "").strip()
        if not KEY_PATTERN.match(key):
            problems.append(f"{where}: id: must look like kb-0001")
        elif key in keys:
            problems.append(f"{where}: id: {key} repeats {keys[key]}")
        else:
            keys[key] = where
        content, found = clean_content(record)
        problems.extend(f"{where}: {p.field}: {p.message}" for p in found)
        title = content.get("title")
        if title and title in titles:
            problems.append(f"{where}: title: the same title as {titles[title]}")
        elif title:
            titles[title] = where
        if title and key:
            other = db.session.scalar(
                select(Article.key).where(Article.title == title, Article.key != key)
            )
            if other:
                problems.append(f"{where}: title: already used by article {other}")
        checked.append((key, content))
    if not rows:
        problems.append(f"{path.name}: no articles")
    if problems:
        db.session.rollback()
        raise ImportFailed(problems)
    summary = ImportSummary()
    try:
        for key, content in _iterate(checked, progress, "importing"):
            outcome = import_content(key, content, actor, source=path.name, publish=publish)
            setattr(summary, outcome, getattr(summary, outcome) + 1)
            summary.keys.append(key)
        db.session.commit()
        optimize_index()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return summary


def _iterate(items: list[Any], progress: Any, label: str) -> Iterator[Any]:
    if progress is None:
        return iter(items)
    return progress(items, label)


# --- exporting --------------------------------------------------------------------------


def export_records(include_unpublished: bool = False) -> list[dict[str, Any]]:
    """The articles as import records: the live version, or the newest when asked for
    articles never published."""
    articles = db.session.scalars(select(Article).order_by(Article.key)).all()
    records = []
    for article in articles:
        number = article.live_number
        if number is None:
            if not include_unpublished:
                continue
            number = article.head_number
        version = db.session.scalar(
            select(ArticleVersion).where(
                ArticleVersion.article_id == article.id, ArticleVersion.number == number
            )
        )
        if version is None:
            continue
        content = version.content()
        record: dict[str, Any] = {
            "id": article.key,
            "kind": content["kind"],
            "title": content["title"],
            "category": content["category"],
            "department": content["department"],
            "answer": content["body"],
            "keywords": content["keywords"],
        }
        if content["questions"]:
            record["questions"] = content["questions"]
        if content["materials"]:
            record["materials"] = content["materials"]
        record["effective_from"] = content["effective_from"]
        for name in ("effective_to", "issuing_unit", "document_number"):
            if content[name]:
                record[name] = content[name]
        if len(content["channels"]) < 3:
            record["channels"] = content["channels"]
        records.append(record)
    return records


def export_knowledge_base(path: Path, *, include_unpublished: bool = False) -> int:
    """Write the knowledge base to PATH (.yaml, .csv or .xlsx); returns the article count."""
    kind = _format(path)
    records = export_records(include_unpublished)
    if kind == "yaml":
        text = yaml.safe_dump(
            {"articles": [_yaml_ready(r) for r in records]},
            allow_unicode=True,
            sort_keys=False,
            width=1000,
        )
        path.write_text(text, encoding="utf-8")
    elif kind == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            for record in records:
                writer.writerow(_flat(record))
    else:
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("知识库")
        sheet.append(list(COLUMNS))
        for record in records:
            flat = _flat(record)
            sheet.append([flat[c] for c in COLUMNS])
        workbook.save(path)
    return len(records)


def _yaml_ready(record: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in record.items()}


def _flat(record: dict[str, Any]) -> dict[str, str]:
    flat = {}
    for column in COLUMNS:
        value = record.get(column)
        if isinstance(value, list):
            flat[column] = LIST_SEPARATOR.join(value)
        elif isinstance(value, date):
            flat[column] = value.isoformat()
        else:
            flat[column] = "" if value is None else str(value)
    return flat
