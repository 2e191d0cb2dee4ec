"""Rebuilding the whole search index, and knowing which text analysis built it.

The index records the fingerprint of the analysis its terms came from
(knowledge_base.text.analysis_fingerprint) in `kb_index_state`. After an upgrade that
reads text differently, every worker's periodic round asks for one re-index job
(`schedule_reindex`), which re-indexes every article in batches and records the new
fingerprint; `hotline kb reindex` does the same at once, and a synonyms change
re-indexes in the editor's own transaction (`reindex_all`).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from hotline.extensions import db
from hotline.models import Article, ArticleVersion, IndexState
from hotline.models.base import utcnow
from knowledge_base.index import (
    document_count,
    forget_vocabulary,
    index_article,
    optimize_index,
)
from knowledge_base.text import analysis_fingerprint

log = logging.getLogger(__name__)
# Articles re-indexed per transaction by a worker or `hotline kb reindex`.
REINDEX_BATCH = 500


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
