"""Rebuilding the whole search index, and knowing which text analysis built it.

The index records the fingerprint of the analysis its terms came from
(`analysis_fingerprint`) in `kb_index_state`. After an upgrade that
reads text differently, every worker's periodic round asks for one re-index job
(`schedule_reindex`), which re-indexes every article in batches and records the new
fingerprint; `hotline kb reindex` does the same at once, and a synonyms change
re-indexes in the editor's own transaction (`reindex_all`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import lru_cache
from importlib import metadata

from sqlalchemy import select

import routing.text
from hotline.extensions import db
from hotline.models import Article, ArticleVersion, IndexState
from hotline.models.base import utcnow
from knowledge_base import text as analysis
from knowledge_base.index import (
    document_count,
    forget_vocabulary,
    index_article,
    optimize_index,
)

log = logging.getLogger(__name__)
# Articles re-indexed per transaction by a worker or `hotline kb reindex`.
REINDEX_BATCH = 500


# A text that meets every table of the analysis: Cantonese, traditional characters,
# full-width letters, homophone typos.
_PROBE = (
    "喺邊度補辦社保咭？我屋企嘅老人家冇醫保卡，住過院又離了婚。"
    "Ｅ社保 app 2026年 身份證到期 公基金 退修 几時来水 搞掂 唔該"
)


@lru_cache(maxsize=1)
def analysis_fingerprint() -> str:
    """What decides how an article is cut into terms: the segmenter's, pinyin's and
    the converter's versions, the Cantonese and stop-word tables, how a probe text is
    normalised and sounded (cheap: jieba's dictionary is not loaded for it), and the
    analysis code's own revision (knowledge_base.text.ANALYSIS_REVISION). Another
    fingerprint than the index's means articles are cut differently from the questions
    now asked, and must be indexed again."""
    versions = {}
    for package in ("jieba", "pypinyin", "opencc"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    normalised = routing.text.normalise(_PROBE)
    made_of = {
        "revision": analysis.ANALYSIS_REVISION,
        "versions": versions,
        "cantonese": sorted(routing.text.CANTONESE.items()),
        "stopwords": sorted(analysis.STOPWORDS),
        "normalised": normalised,
        "sounds": [routing.text.sounds(c) for c in normalised],
    }
    encoded = json.dumps(made_of, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()[:32]


def reindex_all(batch: int | None = None) -> int:
    """Rebuild every published article's terms (after the synonyms or the segmenter
    changed), in the caller's transaction; or, given `batch`, committing after each
    `batch` articles: SQLite has one writer, and a city's whole knowledge base in one
    transaction (minutes at 100,000 articles) would hold every other write (a call
    coming in) for as long. The analysis is recorded once every article is done."""
    forget_vocabulary()
    count = 0
    after = 0
    while True:
        query = (
            select(Article, ArticleVersion)
            .join(
                ArticleVersion,
                (ArticleVersion.article_id == Article.id)
                & (ArticleVersion.number == Article.live_number),
            )
            .where(Article.status == "published", Article.id > after)
            .order_by(Article.id)
        )
        rows = db.session.execute(query.limit(batch) if batch else query).all()
        for article, version in rows:
            index_article(article, version)
            count += 1
        if not batch or len(rows) < batch:
            break
        after = rows[-1][0].id
        db.session.commit()
    optimize_index()
    state = _state()
    state.analysis = analysis_fingerprint()
    state.indexed_at = utcnow()
    return count


def _state(lock: bool = False) -> IndexState:
    query = select(IndexState).where(IndexState.id == 1)
    state = db.session.scalars(query.with_for_update() if lock else query).first()
    if state is None:  # a database made without migrations (create_all)
        state = IndexState(id=1)
        db.session.add(state)
    return state


def index_is_current() -> bool:
    """Whether the index's terms were cut by the analysis this process runs."""
    stored = db.session.scalar(select(IndexState.analysis).where(IndexState.id == 1))
    return stored == analysis_fingerprint()


def reindex_if_stale() -> int | None:
    """Re-index every published article when the index was built by another analysis
    (an upgrade changed how text is read) or an unknown one; records this process's.
    Returns how many articles were re-indexed, None when the index was current. Its
    own unit of work: the articles are committed in batches (reindex_all), the analysis
    only once all are done, so a worker stopped half-way leaves the index stale, and it
    is done again. Two workers never both start: one job for all of them
    (schedule_reindex)."""
    state = _state(lock=True)
    if state.analysis == analysis_fingerprint():
        db.session.rollback()
        return None
    if document_count() == 0:  # nothing indexed yet: whatever is indexed next is current
        state.analysis = analysis_fingerprint()
        state.indexed_at = utcnow()
        db.session.commit()
        return 0
    count = reindex_all(batch=REINDEX_BATCH)
    db.session.commit()
    log.info("knowledge base: %d articles re-indexed with this version's text analysis", count)
    return count


def schedule_reindex() -> str | None:
    """Queue a re-index for a worker when the index was built by another analysis (job
    `kb-reindex-<fingerprint>`, kept a day once done: every worker asks, one job runs,
    and two versions of the code running side by side during an upgrade do not
    re-index in turn for ever). Returns the job id, or None when nothing needs queuing."""
    from rq.job import Job

    from hotline.queue import get_queue, redis_connection

    if index_is_current():
        return None
    job_id = f"kb-reindex-{analysis_fingerprint()}"
    if Job.exists(job_id, connection=redis_connection()):
        return None
    get_queue().enqueue(
        "hotline.jobs.reindex_knowledge_base",
        job_id=job_id,
        job_timeout=3 * 3600,
        result_ttl=24 * 3600,
        failure_ttl=3600,  # a failed one is queued again an hour later
    )
    return job_id
