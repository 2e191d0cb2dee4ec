"""The whole life of a complaint through the JSON API alone, as the issue's acceptance reads."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hotline.models.base import simulated_now

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def complaint(staff, **extra):  # type: ignore[no-untyped-def]
    body = {
        "channel": "phone",
        "type": "complaint",
        "urgency": "general",
        "content": "楼下烧烤店油烟直排，家里不敢开窗，请督促安装油烟净化设备。",
        "address": "蓬江区白沙街道建设路32号",
        "phone": "13812345678",
        "name": "张三丰",
        "category": "0101",
        **extra,
    }
    response = staff.post("agent", "/tickets", body)
    assert response.status_code == 201, response.json
    return response.json


def test_complaint_from_acceptance_to_close_with_extension_and_redo(staff):
    with simulated_now(local("2025-09-26T10:00:00")):  # a Friday before National Day
        ticket = complaint(staff)
    ref = ticket["reference"]
    assert ref.startswith("44070020250926")
    assert ticket["status"] == "accepted"
    assert ticket["caller"]["phone"] == "+8613812345678"

    with simulated_now(local("2025-09-26T10:05:00")):
        r = staff.act("agent", ref, "dispatch", {"department": "SCJGJ"})
    assert r.status_code == 200, r.json
    assert r.json["status"] == "pending_sign"
    # complaint: 15 working days from the day after receipt, across the 8-day holiday
    # (09-28 Sunday and 10-11 Saturday are make-up working days)
    assert r.json["due_at"] == "2025-10-23T23:59:59+08:00"
    assert r.json["sign_due_at"] == "2025-09-28T23:59:59+08:00"

    with simulated_now(local("2025-09-28T09:00:00")):
        r = staff.act("scjg", ref, "sign")
    assert r.status_code == 200, r.json
    assert r.json["status"] == "in_progress"

    with simulated_now(local("2025-10-09T09:00:00")):
        r = staff.act("scjg", ref, "request_extension", {"days": 5, "reason": "需现场检测油烟"})
        assert r.json["status"] == "extension_review"
        r = staff.act("dispatcher", ref, "review_extension", {"approve": True, "note": "同意"})
    assert r.status_code == 200, r.json
    assert r.json["status"] == "in_progress"
    assert r.json["due_at"] == "2025-10-30T23:59:59+08:00"  # +5 working days

    with simulated_now(local("2025-10-10T09:00:00")):
        r = staff.act("scjg", ref, "contact", {"method": "phone", "note": "已联系"})
        assert r.json["first_contact_at"] is not None
        r = staff.act("scjg", ref, "reply", {"result": "solved", "text": "已责令整改"})
        assert r.json["status"] == "reply_review"
        r = staff.act("dispatcher", ref, "review_reply", {"approve": True})
        assert r.json["status"] == "pending_visit"
        r = staff.act(
            "agent",
            ref,
            "visit",
            {"reached": True, "solved": "unsolved", "satisfaction": "dissatisfied"},
        )
    assert r.status_code == 200, r.json
    assert r.json["status"] == "in_progress"
    assert r.json["redo_count"] == 1
    # redo: a new 15-working-day limit from the visit day (10-10, Friday; 10-11 is worked)
    assert r.json["due_at"] == "2025-10-30T23:59:59+08:00"

    with simulated_now(local("2025-10-15T09:00:00")):
        staff.act("scjg", ref, "reply", {"result": "solved", "text": "已安装净化设备"})
        staff.act("dispatcher", ref, "review_reply", {"approve": True})
        r = staff.act(
            "agent",
            ref,
            "visit",
            {"reached": True, "solved": "solved", "satisfaction": "satisfied"},
        )
    assert r.json["status"] == "closed"
    assert r.json["closed_at"] == "2025-10-15T09:00:00+08:00"

    events = staff.get("supervisor", f"/tickets/{ref}").json["events"]
    assert [e["action"] for e in events] == [
        "accept",
        "dispatch",
        "sign",
        "request_extension",
        "review_extension",
        "contact",
        "reply",
        "review_reply",
        "visit",
        "reply",
        "review_reply",
        "visit",
    ]
    assert [e["actor"] for e in events][:3] == ["agent", "agent", "scjg"]
    assert all(e["at"] for e in events)
    assert events[-1]["to"] == "closed"


def test_illegal_moves_are_refused_with_reasons(staff):
    ref = complaint(staff)["reference"]
    r = staff.act("scjg", ref, "sign")
    assert r.status_code == 403  # not dispatched to the unit: it cannot even see it
    staff.act("agent", ref, "dispatch", {"department": "SCJGJ"})
    r = staff.act("pjq", ref, "sign")
    assert r.status_code == 403
    assert r.json["error"]["code"] == "forbidden"
    assert r.json["error"]["message_zh"]
    r = staff.act("agent", ref, "sign")
    assert r.status_code == 403  # agents do not sign for units
    r = staff.act("scjg", ref, "reply", {"result": "solved", "text": "x"})
    assert r.status_code == 409
    assert "pending_sign" in r.json["error"]["message"]

    closed = complaint(staff)["reference"]
    staff.act("agent", closed, "reject", {"reason": "petition", "note": "属信访事项"})
    r = staff.act("scjg", closed, "sign")
    assert r.status_code in (403, 409)
    r = staff.act("admin", closed, "dispatch", {"department": "SCJGJ"})
    assert r.status_code == 409
    assert r.json["error"]["code"] == "invalid_transition"


def test_bad_input_gets_422_with_every_field(staff):
    r = staff.post("agent", "/tickets", {"channel": "pigeon", "type": "complaint"})
    assert r.status_code == 422
    fields = {p["field"] for p in r.json["error"]["details"]["problems"]}
    assert {"channel", "content"} <= fields
    r = staff.post(
        "agent",
        "/tickets",
        {"channel": "phone", "type": "consult", "content": "问", "phone": "12345"},
    )
    assert r.status_code == 422
    assert r.json["error"]["details"]["field"] == "phone"
    ref = complaint(staff)["reference"]
    r = staff.act("agent", ref, "dispatch", {"department": "NOPE"})
    assert r.status_code == 404
    r = staff.act("agent", ref, "fly")
    assert r.status_code == 404
    r = staff.client.post(
        f"/api/v1/tickets/{ref}/dispatch",
        data="{not json",
        headers={**staff.headers("agent"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422


def test_unauthenticated_and_wrong_token(client):
    assert client.get("/api/v1/tickets").status_code == 401
    r = client.get("/api/v1/tickets", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert r.json["error"]["code"] == "not_authenticated"


def test_now_is_real_time_when_not_simulated(staff):
    ticket = complaint(staff)
    received = datetime.fromisoformat(ticket["received_at"])
    assert abs((received - datetime.now(UTC)).total_seconds()) < 60
