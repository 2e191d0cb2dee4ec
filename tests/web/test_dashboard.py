"""The supervisors' dashboard (/supervisor): the figures per unit with their formulas,
the drill-down to the tickets behind a number, filters kept in the URL."""

from __future__ import annotations

import re
from typing import Any

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
