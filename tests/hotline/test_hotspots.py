"""Early warning (苗头性预警): a burst of one category in one street raises exactly one
alert, a pair that is always busy raises none, a risk word raises one per ticket and
word, and supervisors see them with their tickets."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, insert, select

from hotline.extensions import db
from hotline.hotspots import sweep_hotspots
from hotline.models import Category, HotspotAlert, Territory, Ticket
from hotline.models.base import simulated_now
from hotline.tickets.intake import NewTicket, open_ticket
from tests.web.socket_client import login

NOW = datetime(2025, 11, 12, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture
def places(app: Flask, catalogue: Any) -> tuple[int, int, int]:
    """A street, another street, and a second-level category."""
    streets = db.session.scalars(
        select(Territory.id).where(Territory.parent_id.is_not(None)).order_by(Territory.id)
    ).all()
    category = db.session.scalar(
        select(Category.id).where(Category.parent_id.is_not(None)).order_by(Category.id)
    )
    assert len(streets) >= 2 and category is not None
    return streets[-1], streets[-2], category


def requests(count: int, territory: int, category: int, at: datetime, content: str) -> None:
    """`count` requests an hour apart up to `at`, placed and classified."""
    for n in range(count):
        with simulated_now(at - timedelta(hours=n)):
            ticket, _ = open_ticket(
                NewTicket(channel="phone", type="complaint", urgency="general", content=content),
                None,
            )
        ticket.territory_id, ticket.category_id = territory, category
        db.session.commit()


def earlier(count: int, territory: int, category: int, days: int) -> None:
    """The pair's usual traffic: `count` rows spread over the `days` before the window."""
    rows = [
        {
            "reference": f"H{n:019d}",
            "status": "closed",
            "channel": "phone",
            "type": "complaint",
            "urgency": "general",
            "title": "t",
            "content": "c",
            "received_at": NOW - timedelta(days=2) - timedelta(hours=n * 24 * days / count),
            "territory_id": territory,
            "category_id": category,
        }
        for n in range(count)
    ]
    db.session.execute(insert(Ticket), rows)
    db.session.commit()


def alerts() -> list[HotspotAlert]:
    db.session.rollback()
    return list(db.session.scalars(select(HotspotAlert).order_by(HotspotAlert.id)))


def test_a_burst_in_one_street_raises_exactly_one_alert(
    app: Flask, places: tuple[int, int, int]
) -> None:
    street, busy_street, category = places
    requests(6, street, category, NOW, "小区门口的路灯坏了好几天")
    # The other street always has this many: 3 a day for four weeks.
    earlier(84, busy_street, category, 28)
    requests(6, busy_street, category, NOW, "路灯不亮")
    db.session.remove()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context(), simulated_now(NOW):
                sweep_hotspots(full=False)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    [alert] = alerts()
    assert (alert.kind, alert.territory_id, alert.count) == ("burst", street, 6)
    assert "24小时内6件" in alert.title
    with simulated_now(NOW + timedelta(hours=2)):
        requests(1, street, category, NOW + timedelta(hours=2), "路灯还是坏的")
        assert sweep_hotspots(full=False)["hotspot_burst"] == 0  # the same burst
    assert len(alerts()) == 1


def test_too_few_requests_raise_nothing(app: Flask, places: tuple[int, int, int]) -> None:
    street, _other, category = places
    requests(4, street, category, NOW, "路灯坏了")
    with simulated_now(NOW):
        assert sweep_hotspots(full=False) == {"hotspot_burst": 0, "hotspot_keyword": 0}


def test_a_risk_word_raises_one_alert_per_ticket_and_word(
    app: Flask, places: tuple[int, int, int]
) -> None:
    street, _other, category = places
    requests(1, street, category, NOW, "工地老板欠薪三个月，一群工人要去讨薪")
    requests(1, street, category, NOW, "楼道灯坏了")
    with simulated_now(NOW + timedelta(minutes=5)):
        assert sweep_hotspots(full=False)["hotspot_keyword"] == 2  # 欠薪, 讨薪
        assert sweep_hotspots(full=True)["hotspot_keyword"] == 0
    words = sorted(a.keyword or "" for a in alerts())
    assert words == ["欠薪", "讨薪"]


def test_supervisors_see_the_warnings_with_their_tickets(
    app: Flask, staff: Any, places: tuple[int, int, int]
) -> None:
    street, _other, category = places
    requests(6, street, category, NOW, "小区门口的路灯坏了好几天")
    with simulated_now(NOW):
        sweep_hotspots(full=False)
    references = db.session.scalars(select(Ticket.reference)).all()
    page = login(app, "sup", "supervisor").get("/supervisor/hotspots", headers=ZH)
    assert page.status_code == 200 and "集中诉求" in page.text
    assert all(reference in page.text for reference in references)
    fragment = login(app, "adm", "admin").get("/supervisor/hotspots?fragment=1").text
    assert "<html" not in fragment and references[0] in fragment
    assert login(app, "h1", "handler", "PJQ").get("/supervisor/hotspots").status_code == 403
    assert login(app, "a1", "agent").get("/supervisor/hotspots").status_code == 403
    assert db.session.scalar(select(func.count(HotspotAlert.id))) == 1
