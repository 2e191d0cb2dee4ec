"""Knowledge-base search: answer quality on the demo knowledge base and latency at city
scale, each against a baseline measured in the same run.

Quality: the questions of `tests/knowledge_base/data/search_queries.yaml` (short,
colloquial, Cantonese, homophone typos, long and rambling; some the knowledge base
cannot answer) against the demo knowledge base. Baseline: what an off-the-shelf
helpdesk does, a `LIKE '%word%'` match of the question's words on title and body,
ranked by how many words matched.

Latency: the same questions over a knowledge base grown to N articles (generated
variants of the demo articles, each with its own title and a district), p50/p95,
against the `LIKE` baseline at the same size.
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, or_, select

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "tests" / "knowledge_base" / "data" / "search_queries.yaml"
DEMO_KB = ROOT / "knowledge_base" / "data" / "demo_kb.yaml"
CATALOGUE = ROOT / "routing" / "data" / "jiangmen_catalogue.yaml"
DISTRICTS = ["蓬江区", "江海区", "新会区", "台山市", "开平市", "鹤山市", "恩平市"]


def load_queries() -> list[dict[str, Any]]:
    return yaml.safe_load(QUERIES.read_text(encoding="utf-8"))["queries"]


def like_baseline(question: str, limit: int = 3) -> list[str]:
    """Rank articles by how many of the question's words appear (LIKE on title/body)."""
    from hotline.extensions import db
    from hotline.models import Article, ArticleVersion
    from knowledge_base.index import analyzer

    words = analyzer().query(question).words[:8]
    if not words:
        return []
    matches = [
        func.coalesce(
            func.max(
                (ArticleVersion.title.contains(w) | ArticleVersion.body.contains(w)).cast(
                    _int_type()
                )
            ),
            0,
        )
        for w in words
    ]
    score = sum(matches[1:], matches[0])
    rows = db.session.execute(
        select(Article.key, score.label("score"))
        .join(
            ArticleVersion,
            (ArticleVersion.article_id == Article.id)
            & (ArticleVersion.number == Article.live_number),
        )
        .where(
            Article.status == "published",
            or_(
                *[ArticleVersion.title.contains(w) | ArticleVersion.body.contains(w) for w in words]
            ),
        )
        .group_by(Article.key)
        .order_by(score.desc(), Article.key)
        .limit(limit)
    ).all()
    return [row[0] for row in rows]


def _int_type():  # type: ignore[no-untyped-def]
    from sqlalchemy import Integer

    return Integer()


def accuracy(rank: Any, queries: list[dict[str, Any]]) -> dict[str, float]:
    """top-1/top-3 on answerable questions; 'nothing' = share of unanswerable ones with
    no result; also the latency of each call."""
    top1 = top3 = nothing = answerable = unanswerable = 0
    samples = []
    for item in queries:
        start = time.perf_counter()
        keys = rank(item["q"])
        samples.append(time.perf_counter() - start)
        if item.get("expect"):
            answerable += 1
            top1 += bool(keys) and keys[0] == item["expect"]
            top3 += item["expect"] in keys[:3]
        else:
            unanswerable += 1
            nothing += not keys
    ordered = sorted(samples)
    return {
        "top1": top1 / max(answerable, 1),
        "top3": top3 / max(answerable, 1),
        "nothing": nothing / max(unanswerable, 1),
        "p50_ms": statistics.median(ordered) * 1e3,
        "p95_ms": ordered[int(0.95 * (len(ordered) - 1))] * 1e3,
    }


def _ours(question: str) -> list[str]:
    from knowledge_base.search import search

    return [hit.article.key for hit in search(question, limit=3).hits]


def _show(name: str, result: dict[str, float]) -> None:
    print(
        f"  {name:<30} top1 {result['top1']:.3f}  top3 {result['top3']:.3f}  "
        f"unanswerable→nothing {result['nothing']:.3f}  "
        f"p50 {result['p50_ms']:.2f}ms p95 {result['p95_ms']:.2f}ms"
    )


def grow(total: int, seed: int = 7) -> int:
    """Add generated articles until the knowledge base has `total` (variants of the demo
    articles: same subject, a district's own wording and title)."""
    from hotline.extensions import db
    from hotline.models import Article
    from knowledge_base.articles import clean_content, import_content

    base = yaml.safe_load(DEMO_KB.read_text(encoding="utf-8"))["articles"]
    have = db.session.scalar(select(func.count(Article.id))) or 0
    rng = random.Random(seed)
    made = 0
    for number in range(have, total):
        source = rng.choice(base)
        district = rng.choice(DISTRICTS)
        sentences = [s for s in source["answer"].replace("\n", "").split("。") if s]
        rng.shuffle(sentences)
        record = {
            **source,
            "title": f"{source['title']}（{district}版 {number}）",
            "answer": f"{district}：" + "。".join(sentences) + "。",
        }
        content, problems = clean_content(record)
        assert not problems, problems
        import_content(f"kb-{900000 + number}", content, None, source="bench")
        made += 1
        if made % 500 == 0:
            db.session.commit()
    db.session.commit()
    return made


def run(app: Any, articles: int = 5000) -> None:
    from hotline.extensions import db
    from knowledge_base.io import import_knowledge_base
    from knowledge_base.synonyms import load_file, replace_synonyms
    from routing.catalogue import import_catalogue

    queries = load_queries()
    with app.app_context():
        import_catalogue(CATALOGUE, imported_by="bench")
        replace_synonyms(load_file(), actor=None)
        import_knowledge_base(DEMO_KB)
        print(f"knowledge-base search ({len(queries)} questions, demo knowledge base)")
        baseline = accuracy(like_baseline, queries)
        ours = accuracy(_ours, queries)
        _show("baseline: LIKE word match", baseline)
        _show("search (FTS + coverage)", ours)
        print(
            f"  {'':<30} ratio top1 / baseline = {ours['top1'] / max(baseline['top1'], 1e-9):.2f}"
        )
        start = time.perf_counter()
        made = grow(articles)
        took = time.perf_counter() - start
        print(f"  grown to {articles} articles ({made} generated in {took:.0f}s)")
        answerable = [q for q in queries if q.get("expect")]
        big_base = accuracy(like_baseline, answerable)
        big_ours = accuracy(_ours, answerable)
        print(
            f"  latency at {articles} articles: search p50 {big_ours['p50_ms']:.2f}ms "
            f"p95 {big_ours['p95_ms']:.2f}ms; LIKE baseline p50 {big_base['p50_ms']:.2f}ms "
            f"p95 {big_base['p95_ms']:.2f}ms; ratio p50 = "
            f"{big_ours['p50_ms'] / max(big_base['p50_ms'], 1e-9):.2f}"
        )
        db.session.remove()


if __name__ == "__main__":
    import argparse

    from benchmarks.common import make_app

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a throwaway SQLite file")
    parser.add_argument("--articles", type=int, default=5000)
    args = parser.parse_args()
    run(make_app(args.database_url), args.articles)
