"""Daily, weekly and monthly reports (/supervisor/reports): volume against the previous
period, type and channel mix, top categories and rises, key figures, rankings and early
warnings; the same from the daily rollup as counted live; downloads audited."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import select

from hotline.extensions import db
from hotline.models import Event, Ticket
from tests.api_helpers import new_ticket
from tests.web.socket_client import login

ZH = {"Accept-Language": "zh-CN"}
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _weeks() -> tuple[date, date]:
    """Monday of last week and of the week before, in the city's calendar."""
    today = datetime.now(SHANGHAI).date()
    last = today - timedelta(days=today.weekday() + 7)
    return last, last - timedelta(days=7)


def _received(staff: Any, on: date, count: int, category: str, type_: str) -> None:
    for n in range(count):
        reference = new_ticket(staff, content=f"诉求{category}-{n}", category=category, type=type_)
        ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
        assert ticket is not None
        ticket.received_at = datetime(on.year, on.month, on.day, 9 + n, tzinfo=SHANGHAI)
    db.session.commit()


def test_a_weekly_report_compares_with_the_week_before(app: Flask, staff: Any) -> None:
    from hotline.kpi_rollup import refresh
    from hotline.reports import build

    last, before = _weeks()
    _received(staff, last, 6, "0102", "complaint")
    _received(staff, last + timedelta(days=2), 3, "0101", "consult")
    _received(staff, before, 2, "0102", "complaint")
    _received(staff, before + timedelta(days=6), 3, "0101", "consult")

    def check() -> None:
        found = build("week", last + timedelta(days=3))
        assert (found.first, found.last) == (last, last + timedelta(days=6))
        assert (found.accepted, found.accepted_before) == (9, 5)
        assert round(found.change or 0, 3) == 0.8
        assert [(s.key, s.count, s.before) for s in found.categories] == [
            ("0102", 6, 2),
            ("0101", 3, 3),
        ]
        assert [s.key for s in found.rises] == ["0102"]  # 0101 did not rise
        assert [(s.key, s.count) for s in found.types] == [("complaint", 6), ("consult", 3)]
        assert round(found.types[0].share or 0, 3) == 0.667

    check()
    refresh(limit=60)  # the same numbers from the worker's daily rollup
    check()
    assert build("day", last).accepted == 6
    assert build("month", last).first == last.replace(day=1)

    supervisor = login(app, "sup", "supervisor")
    page = supervisor.get(f"/supervisor/reports?period=week&on={last.isoformat()}", headers=ZH)
    assert page.status_code == 200 and "周报" in page.text
    assert 'data-rise="0102"' in page.text and 'data-type="consult"' in page.text
    download = supervisor.get(f"/supervisor/reports?period=week&on={last.isoformat()}&format=xlsx")
    assert download.status_code == 200 and "report-week-" in download.headers["Content-Disposition"]
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(download.data)).active
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert table[1][:4] == ["volume", "accepted", 9, 5]
    assert any(row[0] == "rise" and row[2] == 6 for row in table)
    audited = db.session.scalars(select(Event).where(Event.action == "export")).all()
    assert [e.data["table"] for e in audited] == ["report:week"]


def test_reports_refuse_bad_periods_and_other_roles(app: Flask, staff: Any) -> None:
    supervisor = login(app, "sup", "supervisor")
    assert supervisor.get("/supervisor/reports", headers=ZH).status_code == 200  # yesterday
    assert supervisor.get("/supervisor/reports?period=year", headers=ZH).status_code == 422
    assert supervisor.get("/supervisor/reports?on=yesterday", headers=ZH).status_code == 422
    assert supervisor.get("/supervisor/reports?format=pdf", headers=ZH).status_code == 422
    assert login(app, "a1", "agent").get("/supervisor/reports").status_code == 403
    assert login(app, "h1", "handler", "PJQ").get("/supervisor/reports").status_code == 403
