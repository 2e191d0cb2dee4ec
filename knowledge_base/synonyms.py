"""Search synonyms as editable data: groups of terms a citizen uses for one thing."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml
from sqlalchemy import delete, select

from hotline.audit import record_event
from hotline.errors import InvalidInput
from hotline.extensions import db
from hotline.models import SynonymGroup, User, utcnow
from knowledge_base.reindex import reindex_all

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "synonyms.yaml"
_SPLIT = re.compile(r"[\s,，;；、/]+")


def parse_lines(text: str) -> list[list[str]]:
    """One group per line, terms separated by spaces, commas or 、 (the editor's form)."""
    groups = []
    for line in text.splitlines():
        terms = list(dict.fromkeys(t for t in _SPLIT.split(line.strip()) if t))
        if len(terms) >= 2:
            groups.append(terms)
    return groups


def load_file(path: Path = DEFAULT_FILE) -> list[list[str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list):
        raise InvalidInput(
            f"{path.name}: a top-level 'groups' list is required", "同义词文件格式错误"
        )
    return [
        [str(t) for t in group] for group in groups if isinstance(group, list) and len(group) >= 2
    ]


def current_groups() -> list[list[str]]:
    return [
        list(g) for g in db.session.scalars(select(SynonymGroup.terms).order_by(SynonymGroup.id))
    ]


def replace_synonyms(groups: Iterable[Sequence[str]], actor: User | None) -> int:
    """Replace every group and re-index published articles, in one transaction."""
    cleaned = []
    for group in groups:
        terms = list(dict.fromkeys(str(t).strip() for t in group if str(t).strip()))
        if any(len(t) > 40 for t in terms):
            raise InvalidInput("a synonym is longer than 40 characters", "同义词不能超过 40 字")
        if len(terms) >= 2:
            cleaned.append(terms)
    db.session.execute(delete(SynonymGroup))
    now = utcnow()
    for terms in cleaned:
        db.session.add(SynonymGroup(terms=terms, updated_at=now))
    db.session.flush()
    reindex_all()
    record_event("kb.synonyms", actor=actor, data={"groups": len(cleaned)})
    db.session.commit()
    return len(cleaned)
