"""Exports to CSV and XLSX: de-identified by default, full only for admins, a unit only
its own tickets (a confidential caller hidden), and every export in the audit log."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select

from hotline.exports import generalize_address
from hotline.extensions import db
from hotline.models import Event
from tests.api_helpers import new_ticket

PHONE = "13812345678"
ID_CARD = "440703199001011234"


def rows_of(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.data[:300]
    text = response.data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_addresses_are_cut_to_their_street_or_community() -> None:
    assert generalize_address("蓬江区白沙街道建设路32号") == "蓬江区白沙街道"
    assert generalize_address("江海区礼乐街道东风社区3栋") == "江海区礼乐街道东风社区"
    assert generalize_address("新会区会城镇某路5号") == "新会区会城镇"
    assert generalize_address("蓬江区建设路32号") == "蓬江区"
    assert generalize_address("建设路32号") == ""


def test_a_default_export_is_de_identified_and_audited(app: Flask, staff: Any) -> None:
    reference = new_ticket(
        staff,
        content=f"我的身份证号{ID_CARD}，电话{PHONE}，楼下噪音",
        phone=PHONE,
        name="张三丰",
        address="蓬江区白沙街道建设路32号",
    )
    staff.user("sup", "supervisor")
    [header, row] = rows_of(staff.get("sup", "/exports/tickets?format=csv"))
    record = dict(zip(header, row, strict=True))
    assert record["工单编号"] == reference
    assert (record["来电人"], record["联系电话"]) == ("张**", "138****5678")
    assert record["地址"] == "蓬江区白沙街道"
    assert ID_CARD not in record["诉求内容"] and PHONE not in record["诉求内容"]
    event = db.session.scalar(select(Event).where(Event.action == "export"))
    assert event is not None and event.actor_name == "sup"
    assert event.data == {"table": "tickets", "rows": 1, "format": "csv", "full": False}

    refused = staff.get("sup", "/exports/tickets?format=csv&full=1")
    assert refused.status_code == 403
    staff.user("root", "admin")
    [header, row] = rows_of(staff.get("root", "/exports/tickets?format=csv&full=1"))
    record = dict(zip(header, row, strict=True))
    assert (record["来电人"], record["联系电话"]) == ("张三丰", "+8613812345678")
    assert record["地址"] == "蓬江区白沙街道建设路32号" and ID_CARD in record["诉求内容"]
    assert staff.get("root", "/exports/tickets?format=pdf").status_code == 422


def test_a_unit_exports_only_its_own_tickets(app: Flask, staff: Any) -> None:
    ours = new_ticket(staff, content="路灯坏了", phone=PHONE, name="李四", confidential=True)
    theirs = new_ticket(staff, content="超市卖过期食品")
    staff.act("agent", ours, "dispatch", {"department": "PJQ"})
    staff.act("agent", theirs, "dispatch", {"department": "SCJGJ"})
    staff.user("h", "handler", "PJQ")
    [header, *rows] = rows_of(staff.get("h", "/exports/tickets?format=csv"))
    assert [r[0] for r in rows] == [ours]
    record = dict(zip(header, rows[0], strict=True))
    assert (record["来电人"], record["联系电话"]) == ("", "")  # confidential: hidden from units


def test_xlsx_and_the_figures(app: Flask, staff: Any) -> None:
    new_ticket(staff, content="路灯坏了")
    staff.user("sup", "supervisor")
    response = staff.get("sup", "/exports/tickets?format=xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "工单编号" and len(values) == 2
    figures = rows_of(staff.get("sup", "/exports/kpi?format=csv&group_by=department"))
    assert figures[0][:3] == ["key", "name", "answer_rate"] and figures[-1][0] == "total"
    staff.user("h", "handler", "PJQ")
    assert staff.get("h", "/exports/kpi?format=csv").status_code == 403
    kinds = db.session.scalars(select(Event.data).where(Event.action == "export")).all()
    assert [k["table"] for k in kinds] == ["tickets", "kpi"]


def test_the_ticket_list_links_its_downloads(app: Flask, staff: Any) -> None:
    from tests.web.socket_client import login

    page = login(app, "sup-web", "supervisor").get("/tickets?status=accepted").text
    assert "/api/v1/exports/tickets?format=xlsx&amp;status=accepted" in page
    assert "full=1" not in page
    assert "full=1" in login(app, "root-web", "admin").get("/tickets").text
