"""The supervisors' dashboard (/supervisor): the figures per unit with their formulas,
the drill-down to the tickets behind a number, filters kept in the URL."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from tests.api_helpers import new_ticket
from tests.web.socket_client import login

ZH = {"Accept-Language": "zh-CN"}


def dispatched(staff: Any, department: str, content: str) -> str:
    reference = new_ticket(staff, content=content)
    assert staff.act("agent", reference, "dispatch", {"department": department}).status_code == 200
    return reference


def test_the_dashboard_shows_the_figures_and_drills_down(app: Flask, staff: Any) -> None:
    pjq = [dispatched(staff, "PJQ", "路灯坏了"), dispatched(staff, "PJQ", "井盖丢了")]
    scjgj = dispatched(staff, "SCJGJ", "超市卖过期食品")
    supervisor = login(app, "sup", "supervisor")
    page = supervisor.get("/supervisor", headers=ZH)
    assert page.status_code == 200 and "督办看板" in page.text
    assert 'title="时限（含延期）内答复 / 时限届满的工单"' in page.text  # the formula beside it
    assert 'id="trend-chart"' in page.text and "chart.umd.min.js" in page.text
    link = re.search(
        r'<tr data-key="PJQ">.*?href="([^"]+)" class="drill-down">2</a>', page.text, re.S
    )
    assert link is not None
    listed = supervisor.get(link[1].replace("&amp;", "&"), headers=ZH).text
    assert all(reference in listed for reference in pjq) and scjgj not in listed
    assert "仅显示" in listed
    by_channel = supervisor.get("/supervisor?group_by=channel", headers=ZH).text
    assert '<tr data-key="phone">' in by_channel
    bad = supervisor.get("/supervisor?from=tomorrow", headers=ZH)
    assert bad.status_code == 422
    assert login(app, "a1", "agent").get("/supervisor").status_code == 403
    assert login(app, "h1", "handler", "PJQ").get("/supervisor").status_code == 403


def test_monthly_topic_candidates_put_volume_repeats_and_unsolved_first(
    app: Flask, staff: Any
) -> None:
    from datetime import timedelta

    from hotline.dashboard import topic_candidates
    from hotline.models import utcnow

    busy = [new_ticket(staff, content=f"网购退货纠纷{n}", category="0102") for n in range(3)]
    staff.act("agent", busy[2], "merge", {"into": busy[0]})  # a repeat
    for n in range(2):
        new_ticket(staff, content=f"超市价格问题{n}", category="0101")
    topics = topic_candidates(utcnow() - timedelta(days=1), utcnow() + timedelta(minutes=1))
    assert [t.code for t in topics] == ["0102", "0101"]
    assert topics[0].volume == 3 and topics[0].repeat_rate == pytest.approx(1 / 3, abs=1e-6)
    # 3 × (1 + 1/3) × (2 − 0.5) = 6.0; 2 × 1 × 1.5 = 3.0
    assert (topics[0].score, topics[1].score) == (6.0, 3.0)
    page = login(app, "sup", "supervisor").get("/supervisor", headers=ZH).text
    assert 'data-topic="0102"' in page and "每月一题候选" in page
