"""`python -m benchmarks.kb`: knowledge-base search quality and latency, beside a
baseline of jieba + rank_bm25 measured in the same run.

Quality: the questions of `tests/knowledge_base/data/search_queries.yaml` (written
before the search was tuned; each has a `kind`: plain, short, typo, colloquial,
dialect, synonym, long, or none for questions the knowledge base cannot answer)
against the demo knowledge base `knowledge_base/data/demo_kb.yaml`. Printed: recall@1,
recall@3 and MRR@10 over the answerable questions, overall and by kind, and for `none`
the share left unanswered. The baseline indexes the same articles (title, keywords,
similar questions, body) with `jieba.lcut_for_search` and ranks with `rank_bm25.BM25Okapi`.
The same again for the held-out sets (`search_queries_holdout*.yaml`, 120 and
20 x 150 questions), written after the tuning by people who had seen only the articles.

Latency: p50/p95 of the same questions on the demo knowledge base and again on a
synthetic knowledge base grown to `--articles` (default 100,000; see corpus.py), with
the caches of term frequencies and articles' rows cold (as after a publication) and warm.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT / "tests" / "knowledge_base" / "data" / "search_queries.yaml"
# Written after the search was tuned, each by someone who saw only the demo articles
# (neither the search code, the tuning set nor the synonyms): the honest reading of how
# the search generalises. The ranking was never tuned on them. The misses of the first
# four were read once, to add the everyday words they showed missing (揭不开锅, 被炒,
# 公贷, 年卡 …) to the synonym table; of the fifth, written after that, only the totals
# were read (to check that table and the ranking of long stories), never a question;
# the sixth was first run, and only its totals read, after the next session's changes
# (how a story's last words weigh, separable words such as 离了婚). The seventh and the
# eighth were written in that session, after those changes: the seventh's misses were
# read (which showed a question of only stop words and single characters, 几时来水,
# asking nothing), the eighth's totals only. Of the ninth to the nineteenth, only
# totals (and totals by kind) have been read; the tenth to the nineteenth were each
# sealed until one reading. The twentieth was written for development, its misses to
# be read: 60 of its 150 questions are colloquial, and dialect and long ones follow.
# The twenty-first was sealed until one reading too, and only its totals read.
_DATA = ROOT / "tests" / "knowledge_base" / "data"
HOLDOUTS = (
    _DATA / "search_queries_holdout.yaml",
    *(_DATA / f"search_queries_holdout{n}.yaml" for n in range(2, 22)),
)
MISSES_READ = tuple(_DATA / f"search_queries_holdout{n}.yaml" for n in ("", 2, 3, 4, 7, 20))
TOTALS_READ = tuple(path for path in HOLDOUTS if path not in MISSES_READ)
# A set written like the others and kept out of every run until it is opened with
# --sealed: the reading of questions nobody has measured anything against. Each is
# opened once, then joins HOLDOUTS (sets 10 to 19 and 21 were opened in 2026-11, over
# nine sessions); a new one waits here for the next reading.
SEALED: tuple[Path, ...] = (_DATA / "search_queries_holdout22.yaml",)
DEMO_KB = ROOT / "knowledge_base" / "data" / "demo_kb.yaml"
CATALOGUE = ROOT / "routing" / "data" / "jiangmen_catalogue.yaml"
# The throwaway cluster is given the memory a server for a city's knowledge base would
# be: its search tables (1.5 GB at 100,000 articles) fit in PostgreSQL's own cache. With
# the 128 MB default, the searches measured read from disk (at 100,000 articles on a
# test machine, cold p95 10.7-12.6 ms in four runs; with 2 GB, 9.1-11.4 ms in most runs,
# the machine's own swings being as large as the difference).
POSTGRES_SETTINGS = {"shared_buffers": "2GB"}
KINDS = ("plain", "short", "typo", "colloquial", "dialect", "synonym", "long")
TARGETS = {"recall@1": 0.93, "recall@3": 0.98, "mrr@10": 0.95, "p95_ms_at_scale": 10.0}
PASSES = 3

Ranker = Callable[[str], list[str]]


def load_queries(path: Path = QUERIES) -> list[dict[str, Any]]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["queries"]


def check_queries(path: Path, known: set[str]) -> str | None:
    """What is wrong with a question file (None when it can be measured): it must be the
    YAML of search_queries.yaml, each question with `q` and an `expect` that is a demo
    article's id or empty (a question the knowledge base cannot answer)."""
    try:
        items = load_queries(path)
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        return f"not a question file ({error.__class__.__name__}: {error})"
    if not isinstance(items, list) or not items:
        return "no questions under `queries:`"
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not str(item.get("q") or "").strip():
            return f"question {number} has no `q`"
        if item.get("expect") and item["expect"] not in known:
            return f"question {number} expects {item['expect']}, which no demo article is"
    return None


class Baseline:
    """jieba + rank_bm25 over title, keywords, similar questions and body: what a careful
    engineer would build in an afternoon, and what most plain questions need."""

    def __init__(self, articles: list[dict[str, Any]]) -> None:
        import jieba
        from rank_bm25 import BM25Okapi

        jieba.setLogLevel(60)
        self.keys = [a["id"] for a in articles]
        corpus = [
            jieba.lcut_for_search(
                " ".join(
                    [
                        a["title"],
                        *(a.get("keywords") or []),
                        *(a.get("questions") or []),
                        a["answer"],
                    ]
                )
            )
            for a in articles
        ]
        self.bm25 = BM25Okapi(corpus)
        self.cut = jieba.lcut_for_search

    def __call__(self, question: str) -> list[str]:
        tokens = [t for t in self.cut(question) if t.strip()]
        scores = self.bm25.get_scores(tokens)
        order = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)[:10]
        return [self.keys[i] for i in order if scores[i] > 0]


def ours(question: str) -> list[str]:
    from knowledge_base.search import search

    return [hit.key for hit in search(question, limit=10).hits]


def measure(rank: Ranker, queries: list[dict[str, Any]]) -> dict[str, Any]:
    """recall@1, recall@3, MRR@10 overall and by kind; 'none' answered with nothing;
    latency per question."""
    by_kind: dict[str, list[tuple[int | None]]] = {}
    samples = []
    unanswered = unanswerable = 0
    for item in queries:
        start = time.perf_counter()
        keys = rank(item["q"])
        samples.append(time.perf_counter() - start)
        if not item.get("expect"):
            unanswerable += 1
            unanswered += not keys
            continue
        position = keys.index(item["expect"]) + 1 if item["expect"] in keys[:10] else None
        by_kind.setdefault(item.get("kind", "plain"), []).append((position,))
    result: dict[str, Any] = {"kinds": {}}
    everything = [p for positions in by_kind.values() for p in positions]
    result.update(_scores(everything))
    for kind, positions in by_kind.items():
        result["kinds"][kind] = _scores(positions) | {"n": len(positions)}
    result["none"] = unanswered / unanswerable if unanswerable else None
    ordered = sorted(samples)
    result["p50_ms"] = statistics.median(ordered) * 1e3
    result["p95_ms"] = ordered[int(0.95 * (len(ordered) - 1))] * 1e3
    return result


def _scores(positions: list[tuple[int | None]]) -> dict[str, float]:
    n = max(len(positions), 1)
    return {
        "recall@1": sum(p == 1 for (p,) in positions) / n,
        "recall@3": sum(p is not None and p <= 3 for (p,) in positions) / n,
        "mrr@10": sum(1 / p for (p,) in positions if p) / n,
    }


def latency(rank: Ranker, queries: list[dict[str, Any]]) -> list[float]:
    samples = []
    for item in queries:
        start = time.perf_counter()
        rank(item["q"])
        samples.append(time.perf_counter() - start)
    return samples


def settle_database() -> None:
    """After the bulk load, let SQLite fold its write-ahead log back into the database
    (as its automatic checkpoints do in a running system), so the timings measure
    searching and not a log still holding a gigabyte of fresh pages; PostgreSQL gets
    the statistics and visibility map its autovacuum would have made by then, and the
    checkpoint: otherwise its checkpointer is still writing the load's pages out while
    the searches are timed."""
    from hotline.extensions import db

    db.session.commit()
    db.session.close()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql("VACUUM ANALYZE kb_search_document, kb_article, kb_term")
            connection.exec_driver_sql("CHECKPOINT")
        return
    if db.engine.dialect.name == "sqlite" and db.engine.url.database:
        import sqlite3

        # A connection of its own: the app's begin every transaction with a write lock,
        # under which SQLite refuses to checkpoint.
        connection = sqlite3.connect(db.engine.url.database, timeout=60)
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e3, ordered[int(0.95 * (len(ordered) - 1))] * 1e3


def _line(name: str, r: dict[str, Any]) -> str:
    return (
        f"  {name:<26} recall@1 {r['recall@1']:.3f}  recall@3 {r['recall@3']:.3f}  "
        f"MRR@10 {r['mrr@10']:.3f}"
    )


def report(our: dict[str, Any], base: dict[str, Any], answerable: int, none: int) -> None:
    print(f"quality ({answerable} answerable questions, {none} the base cannot answer)")
    print(
        _line("baseline jieba+rank_bm25", base)
        + f"  p50 {base['p50_ms']:.2f}ms p95 {base['p95_ms']:.2f}ms"
    )
    print(_line("search", our) + f"  p50 {our['p50_ms']:.2f}ms p95 {our['p95_ms']:.2f}ms")
    print("  by kind (search vs baseline):")
    for kind in KINDS:
        if kind not in our["kinds"]:
            continue
        o, b = our["kinds"][kind], base["kinds"][kind]
        print(
            f"    {kind:<11} n={o['n']:<3} recall@1 {o['recall@1']:.3f} vs {b['recall@1']:.3f}  "
            f"recall@3 {o['recall@3']:.3f} vs {b['recall@3']:.3f}  "
            f"MRR@10 {o['mrr@10']:.3f} vs {b['mrr@10']:.3f}"
        )
    if our["none"] is not None:
        print(
            f"    {'none':<11} n={none:<3} left unanswered {our['none']:.3f} vs "
            f"{base['none']:.3f} (the baseline has no notion of 'no answer')"
        )


def run(
    app: Any, articles: int, scale_only: bool = False, extra: tuple[Path, ...] = ()
) -> dict[str, Any]:
    """Quality on the demo knowledge base (the tuning set, the held-out sets and any
    `extra` question files), then latency at `articles`."""
    from hotline.warmup import warm

    results: dict[str, Any] = {}
    queries = load_queries()
    with app.app_context():
        if not scale_only:
            results.update(_quality(app, queries, (*HOLDOUTS, *extra)))
        else:
            warm(app)  # what a web process does as it starts (hotline.warmup)
        if articles > len(yaml.safe_load(DEMO_KB.read_text(encoding="utf-8"))["articles"]):
            results["scale"] = _scale(articles, queries)
        verdicts = _verdicts(results.get("search"), results.get("baseline"), results.get("scale"))
        print("targets:", ", ".join(verdicts))
    return results


def _quality(
    app: Any, queries: list[dict[str, Any]], held_out: tuple[Path, ...] = HOLDOUTS
) -> dict[str, Any]:
    """Quality on the demo knowledge base (imported here) and on each held-out set."""
    from hotline.warmup import warm
    from knowledge_base.io import import_knowledge_base
    from knowledge_base.search import today
    from knowledge_base.synonyms import load_file, replace_synonyms
    from routing.catalogue import import_catalogue

    corpus = yaml.safe_load(DEMO_KB.read_text(encoding="utf-8"))["articles"]
    import_catalogue(CATALOGUE, imported_by="bench")
    replace_synonyms(load_file(), actor=None)
    import_knowledge_base(DEMO_KB)
    live = [
        a
        for a in corpus
        if not a.get("effective_to") or str(a["effective_to"]) >= today().isoformat()
    ]
    baseline = Baseline(live)
    warm(app)  # what a web process does as it starts (hotline.warmup)
    base = measure(baseline, queries)
    our = measure(ours, queries)
    answerable = sum(1 for q in queries if q.get("expect"))
    report(our, base, answerable, len(queries) - answerable)
    results: dict[str, Any] = {"search": our, "baseline": base}
    for path in held_out:
        held = load_queries(path)
        held_our, held_base = measure(ours, held), measure(baseline, held)
        answerable = sum(1 for q in held if q.get("expect"))
        if path in SEALED:
            label = "sealed until this run"
        elif path not in HOLDOUTS:
            label = "given with --queries"
        elif path in MISSES_READ:
            label = "its misses read"
        elif path in TOTALS_READ:
            label = "only its totals read"
        else:
            label = "never looked at"
        print(f"held-out set ({path.name}, {label}):")
        report(held_our, held_base, answerable, len(held) - answerable)
        results.setdefault("holdout", {})[path.stem] = {"search": held_our, "baseline": held_base}
    opened = [results["holdout"][path.stem] for path in HOLDOUTS if path in held_out]
    if opened:
        our_pooled = _pooled([r["search"] for r in opened])
        base_pooled = _pooled([r["baseline"] for r in opened])
        print(f"held-out sets opened so far, pooled ({our_pooled['n']} answerable questions):")
        print(_line("baseline jieba+rank_bm25", base_pooled))
        print(_line("search", our_pooled))
    return results


def _pooled(measured: list[dict[str, Any]]) -> dict[str, Any]:
    """Several sets' scores as one set of all their answerable questions."""
    sizes = [sum(kind["n"] for kind in r["kinds"].values()) for r in measured]
    total = max(sum(sizes), 1)
    pooled: dict[str, Any] = {"n": sum(sizes)}
    for name in ("recall@1", "recall@3", "mrr@10"):
        pooled[name] = sum(r[name] * n for r, n in zip(measured, sizes, strict=True)) / total
    return pooled


def _scale(articles: int, queries: list[dict[str, Any]]) -> dict[str, Any]:
    """Latency (and quality) with the knowledge base topped up to `articles`."""
    from benchmarks.kb.corpus import load_synthetic
    from knowledge_base.index import forget_frequencies

    start = time.perf_counter()
    made = load_synthetic(articles)
    took = time.perf_counter() - start
    print(f"scale: {articles} articles ({made} synthetic, loaded in {took:.0f}s)")
    # Cold: every term's frequency and article row read from the database again (as after a
    # publication), three passes pooled, so one busy moment on the machine does not
    # decide the p95; warm: three more passes with them cached.
    settle_database()
    cold_samples: list[float] = []
    for _ in range(PASSES):
        forget_frequencies()
        cold_samples += latency(ours, queries)
    warm_samples: list[float] = []
    for _ in range(PASSES):
        warm_samples += latency(ours, queries)
    cold, warm = percentiles(cold_samples), percentiles(warm_samples)
    print(
        f"  search at {articles} ({PASSES} passes of {len(queries)} questions each): "
        f"cold p50 {cold[0]:.2f}ms p95 {cold[1]:.2f}ms; "
        f"warm p50 {warm[0]:.2f}ms p95 {warm[1]:.2f}ms"
    )
    still = measure(ours, queries)
    print(_line(f"search at {articles}", still))
    # The held-out sets already opened, pooled (as on the demo articles alone, above): at
    # scale, articles that merely share a question's everyday words compete with its
    # answer for the candidates' places.
    held = [q for path in HOLDOUTS for q in load_queries(path)]
    pooled = measure(ours, held)
    answerable = sum(1 for q in held if q.get("expect"))
    print(_line(f"held-out at {articles}", pooled) + f"  ({answerable} questions pooled)")
    return {"cold": cold, "warm": warm, "quality": still, "held_out_quality": pooled}


def _verdicts(
    our: dict[str, Any] | None, base: dict[str, Any] | None, scale: dict[str, Any] | None
) -> list[str]:
    out = []
    for name in ("recall@1", "recall@3", "mrr@10") if our and base else ():
        ok = our[name] >= TARGETS[name] and our[name] > base[name]
        out.append(f"{name} {our[name]:.3f} {'meets' if ok else 'misses'} {TARGETS[name]}")
    if scale:
        p95 = scale["cold"][1]
        verdict = "meets" if p95 <= TARGETS["p95_ms_at_scale"] else "misses"
        out.append(f"p95 at scale {p95:.2f}ms {verdict} {TARGETS['p95_ms_at_scale']}ms")
    return out


def _memory(app: Any) -> str:
    """PostgreSQL's own cache size, which decides whether a search reads from disk."""
    from hotline.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return ""
        return f" (shared_buffers {db.session.scalar(text('SHOW shared_buffers'))})"


def main() -> None:
    from benchmarks.common import make_app, throwaway_postgres

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a throwaway SQLite file")
    parser.add_argument("--postgres", action="store_true", help="a throwaway cluster")
    parser.add_argument("--articles", type=int, default=100_000, help="synthetic scale")
    parser.add_argument(
        "--scale-only",
        action="store_true",
        help="only the scale part, on a --database-url an earlier run loaded",
    )
    parser.add_argument(
        "--sealed",
        action="store_true",
        help="also measure the sealed held-out set (once it is opened, it is no longer sealed)",
    )
    parser.add_argument(
        "--queries",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a further question set to measure (the YAML of search_queries.yaml)",
    )
    args = parser.parse_args()
    known = {a["id"] for a in yaml.safe_load(DEMO_KB.read_text(encoding="utf-8"))["articles"]}
    for path in args.queries:
        problem = check_queries(path, known)
        if problem:
            parser.error(f"{path}: {problem}")
    if args.scale_only and not args.database_url:
        # A fresh database has no demo articles: the questions would find nothing, and
        # the latency would be that of a knowledge base of synthetic articles only.
        parser.error("--scale-only needs the --database-url of an earlier run")
    if args.sealed and not SEALED:
        parser.error("no sealed question set is waiting: every one has been opened")
    url = throwaway_postgres(POSTGRES_SETTINGS) if args.postgres else args.database_url
    app = make_app(url)
    print(f"database: {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}{_memory(app)}")
    run(app, args.articles, args.scale_only, (*args.queries, *(SEALED if args.sealed else ())))


if __name__ == "__main__":
    main()
