"""Readying a web process for its first question: loading the word dictionaries (the
segmenter's and the part-of-speech one) and building routing's model take seconds,
which the first agent to ask would otherwise wait through. `start(app)` does it all on
a background thread as the process starts."""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from hotline.extensions import db

log = logging.getLogger(__name__)
SAMPLE = "小区门口路灯坏了，晚上很黑"


def warm(app: Flask) -> float:
    """Run one knowledge-base search and one routing suggestion; returns the seconds it
    took. Failures are logged only: the first real question will try again."""
    started = time.perf_counter()
    with app.app_context():
        try:
            from knowledge_base.search import search
            from routing.suggest import suggest

            search(SAMPLE, channel="hotline", limit=1)
            suggest(SAMPLE)
            # The part-of-speech dictionary weighs words the index has never seen; the
            # first long question would otherwise load it (about 2 s).
            from knowledge_base.scoring import preload

            preload()
            from knowledge_base.reindex import index_is_current

            if not index_is_current():
                log.warning(
                    "the knowledge base's search index was built by another version's text "
                    "analysis: a worker re-indexes it (or run `hotline kb reindex`)"
                )
        except Exception:  # a warm-up must never stop a web process from serving
            log.exception("warm-up failed; the first question will be slower")
        finally:
            db.session.rollback()
            db.session.remove()
    return time.perf_counter() - started


def start(app: Flask) -> threading.Thread:
    def run() -> None:
        log.info("search and routing ready in %.1f s", warm(app))

    thread = threading.Thread(target=run, name="warm-up", daemon=True)
    thread.start()
    return thread
