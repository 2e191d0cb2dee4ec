"""A synthetic knowledge base at city scale, loaded in bulk.

Articles are made of words drawn from jieba's dictionary by their frequency (so term
statistics look like real Chinese text: a few words everywhere, most words rare),
with a service-guide shape: a title of a few words, keywords, and a body of one to
two hundred words. They are written straight into the tables and the search index
(the same terms `knowledge_base.index` would write), which takes minutes instead of
the hours that publishing 100,000 articles one by one through the workflow would.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select, text

from hotline.extensions import db
from hotline.models import Article, ArticleVersion, SearchDocument, utcnow
from knowledge_base.index import (
    PG_INDEX_UPDATE,
    analyzer,
    apply_term_counts,
    article_story_terms,
    dialect,
    distinct_terms,
    forget_vocabulary,
    index_vector,
    optimize_index,
    subject_phrases,
)

KEY_BASE = 1_000_000
BATCH = 2000


class WordSource:
    """Chinese words sampled by their frequency in jieba's dictionary."""

    def __init__(self, rng: random.Random, size: int = 60_000) -> None:
        import jieba

        jieba.setLogLevel(60)
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        words = sorted(
            (
                (freq, word)
                for word, freq in tokenizer.FREQ.items()
                if freq > 0 and 2 <= len(word) <= 4 and all("\u4e00" <= c <= "\u9fff" for c in word)
            ),
            reverse=True,
        )[:size]
        self.words = [w for _, w in words]
        self.cumulative = list(itertools.accumulate(f for f, _ in words))
        self.rng = rng

    def take(self, count: int) -> list[str]:
        total = self.cumulative[-1]
        return [
            self.words[bisect.bisect_left(self.cumulative, self.rng.random() * total)]
            for _ in range(count)
        ]


def _article(source: WordSource, rng: random.Random, number: int) -> dict[str, Any]:
    title = "".join(source.take(rng.randint(3, 6)))[:60] + f"（{number}）"
    sentences = ["".join(source.take(rng.randint(6, 14))) for _ in range(rng.randint(8, 14))]
    return {
        "title": title,
        "body": "。".join(sentences) + "。",
        "keywords": list(dict.fromkeys(source.take(5))),
        "kind": "guide" if number % 3 == 0 else "qa",
    }


def load_synthetic(total: int, seed: int = 20261127) -> int:
    """Add synthetic published articles until the knowledge base has `total`."""
    have = db.session.scalar(select(func.count(Article.id))) or 0
    if have >= total:
        return 0
    rng = random.Random(seed)
    source = WordSource(rng)
    tool = analyzer()
    today = date(2026, 1, 1)
    now = utcnow()
    made = 0
    next_id = (db.session.scalar(select(func.max(Article.id))) or 0) + 1
    while have + made < total:
        count = min(BATCH, total - have - made)
        articles, versions, documents, fts = [], [], [], []
        counts: Counter[str] = Counter()
        for offset in range(count):
            number = have + made + offset
            article_id = next_id + made + offset
            data = _article(source, rng, number)
            title, keywords = (
                tool.document(data["title"]),
                tool.document(" ".join(data["keywords"])),
            )
            body = tool.document(data["body"])
            row = {
                "title_terms": title.index_text(),
                "keyword_terms": keywords.index_text() + " " + " ".join(data["keywords"]),
                "body_terms": body.index_text(),
                "sound_terms": " ".join((*title.sounds, *keywords.sounds, *body.sounds)),
                "subject_sounds": " ".join((*title.sounds, *keywords.sounds)),
                "subject_terms": subject_phrases(data["title"], data["keywords"]),
            }
            counts.update(distinct_terms(row))
            articles.append(
                {
                    "id": article_id,
                    "key": f"kb-{KEY_BASE + number}",
                    "status": "published",
                    "head_number": 1,
                    "live_number": 1,
                    "title": data["title"],
                    "kind": data["kind"],
                    "effective_from": today,
                    "on_hotline": True,
                    "on_portal": True,
                    "on_window": True,
                    "created_at": now,
                    "published_at": now,
                    "helpful_count": 0,
                    "unhelpful_count": 0,
                }
            )
            versions.append(
                {
                    "article_id": article_id,
                    "number": 1,
                    "state": "published",
                    "title": data["title"],
                    "kind": data["kind"],
                    "body": data["body"],
                    "keywords": data["keywords"],
                    "materials": [],
                    "effective_from": today,
                    "on_hotline": True,
                    "on_portal": True,
                    "on_window": True,
                    "source": "import",
                    "created_at": now,
                    "published_at": now,
                }
            )
            story = article_story_terms(data["title"], data["keywords"], [], data["body"], [])
            documents.append({"article_id": article_id, **row, "story_terms": story})
            fts.append(row | {"id": article_id})
        db.session.execute(insert(Article), articles)
        db.session.execute(insert(ArticleVersion), versions)
        db.session.execute(insert(SearchDocument), documents)
        if dialect() == "sqlite":
            db.session.execute(
                text(
                    "INSERT INTO kb_fts (rowid, title, keywords, body, sounds) VALUES "
                    "(:id, :title_terms, :keyword_terms, :body_terms, :subject_sounds)"
                ),
                fts,
            )
            db.session.execute(
                text(
                    "INSERT INTO kb_fts_subject (rowid, title, keywords) VALUES "
                    "(:id, :title_terms, :keyword_terms)"
                ),
                fts,
            )
        else:
            db.session.execute(
                text(PG_INDEX_UPDATE),
                [
                    {
                        "id": r["id"],
                        "vector": index_vector(
                            r["title_terms"],
                            r["keyword_terms"],
                            r["body_terms"],
                            r["subject_sounds"],
                        ),
                    }
                    for r in fts
                ],
            )
        apply_term_counts(dict(counts))
        db.session.commit()
        made += count
    if dialect() != "sqlite":
        db.session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('kb_article', 'id'), max(id)) FROM kb_article"
            )
        )
    optimize_index()  # as an import does
    db.session.commit()
    forget_vocabulary()
    return made
