"""A web process readies search and routing on a background thread as it starts, and a
failure there is logged, never raised (the process serves anyway)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask

from hotline import warmup


def test_the_warm_up_runs_search_and_routing_once(app: Flask, catalogue: Any, caplog) -> None:  # type: ignore[no-untyped-def]
    from knowledge_base.scoring import _word_tags

    caplog.set_level(logging.INFO, logger="hotline.warmup")
    _word_tags.cache_clear()  # as in a fresh process
    warmup.start(app).join(timeout=120)
    assert any("search and routing ready" in r.getMessage() for r in caplog.records)
    assert not any("warm-up failed" in r.getMessage() for r in caplog.records)
    from routing.suggest import suggest

    with app.app_context():
        assert suggest(warmup.SAMPLE)  # the engine it built answers at once
    assert _word_tags.cache_info().currsize == 1  # the part-of-speech dictionary is in


def test_a_failed_warm_up_is_logged_not_raised(
    app: Flask, caplog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import routing.suggest

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("catalogue unreadable")

    monkeypatch.setattr(routing.suggest, "suggest", broken)
    assert warmup.warm(app) >= 0
    assert any("warm-up failed" in r.getMessage() for r in caplog.records)
