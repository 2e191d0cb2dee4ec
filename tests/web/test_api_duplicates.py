"""Duplicates (并单) and mass incidents (事件归并) through the JSON API: suggestion,
merge, and the parent's reply closing the tickets that follow it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hotline.models.base import simulated_now

WATER = "白沙街道建设路一带从早上八点开始停水，事先没有任何通知，几时恢复供水"
POWER = [
    "台城石花路一带突然停电，半个钟头了还没来电，家里有老人用制氧机",
    "石花路停电，雪柜啲嘢就快坏晒，问下几时恢复供电",
    "台城石花路停电一个钟了，几时来电",
    "石花路又停电了，成条街都冇电",
]

SAMPLE_KB = Path(__file__).resolve().parent.parent / "knowledge_base" / "data" / "kb.sample.yaml"


@pytest.fixture
def office(staff):  # type: ignore[no-untyped-def]
    staff.user("gsqy", "handler", "GSQY")  # water company
    staff.user("gdj", "handler", "GDJ")  # power supply bureau
    return staff


def new_ticket(api, content: str, **extra: Any) -> str:  # type: ignore[no-untyped-def]
    body = {"channel": "phone", "type": "help", "content": content, **extra}
    response = api.post("agent", "/tickets", body)
    assert response.status_code == 201, response.json
    return response.json["reference"]


def ok(response):  # type: ignore[no-untyped-def]
    assert response.status_code in (200, 201), response.json
    return response.json


def refused(response, status: int, code: str | None = None):  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.json
    if code:
        assert response.json["error"]["code"] == code
    assert response.json["error"]["message_zh"]
    return response.json["error"]


def duplicates(api, reference: str, who: str = "agent") -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return ok(api.get(who, f"/tickets/{reference}/duplicates"))["candidates"]


def handle_to_visit(api, reference: str, unit: str, who: str) -> None:  # type: ignore[no-untyped-def]
    ok(api.act("dispatcher", reference, "dispatch", {"department": unit, "suggestions": []}))
    ok(api.act(who, reference, "sign"))
    ok(api.act(who, reference, "reply", {"result": "solved", "text": "已抢修，恢复供水"}))
    ok(api.act("dispatcher", reference, "review_reply", {"approve": True}))


def test_duplicates_are_suggested_merged_and_closed_by_the_parents_visit(office):
    parent = new_ticket(
        office, WATER, category="0901", address="蓬江区白沙街道建设路", phone="13800000001"
    )
    again = new_ticket(
        office, "建设路停水到而家都未来水，想再问下几时恢复供水", phone="13800000001"
    )
    neighbour = new_ticket(
        office,
        "建设路这边停水了，一滴水都冇，问下几时来水",
        category="0901",
        address="蓬江区白沙街道建设路12号",
        phone="13800000002",
    )
    other_matter = new_ticket(office, "社保卡丢了想补办，挂失电话打不通", phone="13800000001")

    found = duplicates(office, again)
    assert [c["reference"] for c in found] == [parent]
    assert found[0]["reasons"][0].startswith("同一来电人")
    assert found[0]["status"] == "accepted" and found[0]["title"]
    assert 0 < found[0]["score"] <= 1 and found[0]["received_at"].endswith("+08:00")
    found = duplicates(office, neighbour, who="dispatcher")
    assert parent in [c["reference"] for c in found]
    reasons = next(c["reasons"] for c in found if c["reference"] == parent)
    assert "同一分类：供水" in reasons
    assert duplicates(office, other_matter) == []

    for child in (again, neighbour):
        t = ok(office.act("agent", child, "merge", {"into": parent}))
        assert t["status"] == "merged" and t["merged_into"] == parent
    assert duplicates(office, parent) == []  # merged tickets are no longer candidates

    handle_to_visit(office, parent, "GSQY", "gsqy")
    t = ok(
        office.act(
            "agent",
            parent,
            "visit",
            {"reached": True, "solved": "solved", "satisfaction": "satisfied"},
        )
    )
    assert t["status"] == "closed"
    for child in (again, neighbour):
        child_now = ok(office.get("supervisor", f"/tickets/{child}"))
        assert child_now["status"] == "merged" and child_now["closed_at"] == t["closed_at"]
        assert child_now["events"][-1]["action"] == "close_with_parent"
        assert child_now["events"][-1]["data"] == {"parent": parent}
    assert ok(office.get("agent", f"/tickets/{other_matter}"))["closed_at"] is None


def test_a_direct_answer_to_the_parent_closes_the_repeat_call(office):
    from knowledge_base.io import import_knowledge_base

    import_knowledge_base(SAMPLE_KB)
    first = new_ticket(
        office,
        "小朋友城乡居民医保断缴了还能补交吗，要去哪里办",
        type="consult",
        phone="13900000009",
    )
    repeat = new_ticket(
        office, "再问下小孩医保断缴补交要带什么资料", type="consult", phone="13900000009"
    )
    assert [c["reference"] for c in duplicates(office, repeat)] == [first]
    ok(office.act("agent", repeat, "merge", {"into": first}))
    ok(office.act("agent", first, "answer_directly", {"articles": ["kb-9003"], "text": "可补缴"}))
    child = ok(office.get("agent", f"/tickets/{repeat}"))
    assert child["closed_at"] is not None and child["events"][-1]["action"] == "close_with_parent"


def test_only_open_unmerged_tickets_are_candidates_best_first(office):
    phone = "13800000003"
    closed = new_ticket(office, WATER, phone=phone)
    ok(office.act("agent", closed, "reject", {"reason": "invalid"}))
    older = new_ticket(office, "建设路停水", phone=phone)
    closer = new_ticket(office, WATER + "？", phone=phone)
    me = new_ticket(office, WATER, phone=phone)
    found = duplicates(office, me)
    assert [c["reference"] for c in found] == [closer, older]
    assert found[0]["score"] > found[1]["score"]
    assert duplicates(office, closed) == []  # a closed ticket has nothing to merge


def test_duplicates_permissions_and_bad_input(office):
    ref = new_ticket(office, WATER)
    ok(office.act("agent", ref, "dispatch", {"department": "GSQY", "suggestions": []}))
    for who in ("agent", "dispatcher", "supervisor", "admin"):
        ok(office.get(who, f"/tickets/{ref}/duplicates"))
    refused(
        office.get("gsqy", f"/tickets/{ref}/duplicates"), 403, "forbidden"
    )  # holds it, still no
    refused(office.get("editor", f"/tickets/{ref}/duplicates"), 403)
    refused(office.get("agent", "/tickets/nope/duplicates"), 404, "not_found")
    for days in ("0", "abc", "91"):
        refused(office.get("agent", f"/tickets/{ref}/duplicates?days={days}"), 422)
    ok(office.get("agent", f"/tickets/{ref}/duplicates?days=30"))
    refused(office.post("agent", f"/tickets/{ref}/duplicates"), 404)  # not an action


def test_the_windows_come_from_the_configuration(office, app):
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    with simulated_now(now - timedelta(days=2)):
        earlier = new_ticket(office, WATER, phone="13800000005")
    later = new_ticket(office, WATER, phone="13800000005")
    assert [c["reference"] for c in duplicates(office, later)] == [earlier]  # default: 7 days
    app.config["DUPLICATE_DAYS"] = 1
    assert duplicates(office, later) == []
    found = ok(office.get("agent", f"/tickets/{later}/duplicates?days=3"))["candidates"]
    assert [c["reference"] for c in found] == [earlier]


def test_a_burst_needs_the_configured_number_of_tickets_and_window(office, app):
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    for hours_ago, text in zip((5, 3, 1, 0), POWER, strict=True):  # one call every 1–2 hours
        with simulated_now(now - timedelta(hours=hours_ago, minutes=1)):
            new_ticket(office, text, category="0902", address="台山市台城街道石花路")

    def bursts() -> list[dict[str, Any]]:
        return ok(office.get("dispatcher", "/incidents/candidates"))["candidates"]

    assert [c["count"] for c in bursts()] == [4]  # defaults: 3 tickets inside 6 hours
    app.config["INCIDENT_MIN_TICKETS"] = 5
    assert bursts() == []
    app.config["INCIDENT_MIN_TICKETS"] = 3
    app.config["INCIDENT_WINDOW_HOURS"] = 2  # never three calls inside two hours
    assert bursts() == []
    app.config["INCIDENT_WINDOW_HOURS"] = 6
    assert bursts() != [] and ok(office.get("dispatcher", "/incidents/candidates?hours=2")) == {
        "candidates": []  # the lookback sees only the last two calls
    }


def _burst(office) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        new_ticket(
            office,
            text,
            category="0902",
            address=f"台山市台城街道石花路{10 + i}号",
            phone=f"1370000000{i}",
        )
        for i, text in enumerate(POWER)
    ]


def test_a_burst_is_grouped_and_one_reply_closes_the_merged_tickets(office):
    first, second, third, fourth = _burst(office)
    ok(office.act("agent", first, "dispatch", {"department": "GDJ", "suggestions": []}))
    ok(office.act("agent", second, "dispatch", {"department": "GDJ", "suggestions": []}))

    candidates = ok(office.get("dispatcher", "/incidents/candidates"))["candidates"]
    assert len(candidates) == 1
    burst = candidates[0]
    assert burst["references"] == [first, second, third, fourth] and burst["count"] == 4
    assert burst["parent"] == first  # the earliest ticket a unit already holds
    assert burst["category"] == "0902" and burst["title"]
    assert any(reason.startswith("4 张工单") for reason in burst["reasons"])

    body = {"references": [second, third, fourth], "parent": first, "title": "台城石花路停电"}
    refused(office.post("agent", "/incidents", body), 403)
    response = office.post("dispatcher", "/incidents", body)
    group = ok(response)
    assert response.status_code == 201 and response.headers["Location"].endswith(f"/{group['id']}")
    roles = {t["reference"]: t["role"] for t in group["tickets"]}
    assert roles == {first: "parent", second: "linked", third: "merged", fourth: "merged"}
    assert group["parent"] == first and group["category"] == "0902" and group["closed_at"] is None

    events = {ref: ok(office.get("agent", f"/tickets/{ref}"))["events"] for ref in roles}
    assert events[first][-1]["action"] == "group_incident"
    assert events[first][-1]["data"]["merged"] == [third, fourth]
    assert events[second][-1]["action"] == "group_incident"
    assert events[second][-1]["data"] == {"group": group["id"], "role": "linked", "parent": first}
    assert events[third][-1]["action"] == "merge"
    assert events[third][-1]["data"] == {"into": first, "group": group["id"]}
    assert ok(office.get("dispatcher", "/incidents/candidates"))["candidates"] == []

    # A later call about the same outage: offered the group's parent, merged, it joins.
    late = new_ticket(
        office, "石花路停电两个钟都未来电", category="0902", address="台山市台城街道石花路20号"
    )
    offered = {c["reference"]: c for c in duplicates(office, late)}
    assert offered[first]["incident_group"] == group["id"]
    t = ok(office.act("agent", late, "merge", {"into": first}))
    assert t["incident_group"] == group["id"]

    ok(office.act("gdj", first, "sign"))
    ok(office.act("gdj", first, "reply", {"result": "solved", "text": "线路抢修完毕，已恢复供电"}))
    ok(office.act("dispatcher", first, "review_reply", {"approve": True}))
    parent = ok(
        office.act(
            "agent",
            first,
            "visit",
            {"reached": True, "solved": "solved", "satisfaction": "satisfied"},
        )
    )
    group = ok(office.get("supervisor", f"/incidents/{group['id']}"))
    assert group["closed_at"] == parent["closed_at"]
    state = {t["reference"]: (t["status"], t["closed_at"] is not None) for t in group["tickets"]}
    assert state == {
        first: ("closed", True),
        second: ("pending_sign", False),  # linked: its own unit answers it
        third: ("merged", True),
        fourth: ("merged", True),
        late: ("merged", True),
    }


def test_grouping_refuses_what_it_cannot_group(office):
    first, second, third, _fourth = _burst(office)
    closed = new_ticket(office, POWER[0], category="0902")
    ok(office.act("agent", closed, "reject", {"reason": "invalid"}))
    post = office.post

    refused(post("dispatcher", "/incidents", {"references": [second], "parent": first}), 422)
    refused(
        post("dispatcher", "/incidents", {"references": [], "parent": first, "title": "停电"}), 422
    )
    refused(
        post("dispatcher", "/incidents", {"references": [first], "parent": first, "title": "x"}),
        422,
    )
    error = refused(
        post(
            "dispatcher", "/incidents", {"references": ["nope"], "parent": first, "title": "停电"}
        ),
        404,
    )
    assert error["details"]["missing"] == ["nope"]
    refused(
        post(
            "dispatcher", "/incidents", {"references": [closed], "parent": first, "title": "停电"}
        ),
        422,
        "rule_violation",
    )
    group = ok(
        post("admin", "/incidents", {"references": [second], "parent": first, "title": "停电"})
    )
    refused(
        post(
            "dispatcher", "/incidents", {"references": [third], "parent": second, "title": "停电"}
        ),
        422,
        "rule_violation",
    )
    refused(office.get("gdj", "/incidents/candidates"), 403)
    refused(office.get("editor", f"/incidents/{group['id']}"), 403)
    refused(office.get("agent", "/incidents/999999"), 404)
    refused(office.get("agent", "/incidents/candidates?hours=0"), 422)
    # The parent answers for the group: it cannot itself be merged away.
    refused(office.act("agent", first, "merge", {"into": third}), 422, "rule_violation")


def test_duplicates_of_a_merged_ticket_follow_it_into_the_group(office):
    main = new_ticket(office, POWER[0], category="0902", address="台山市台城街道石花路1号")
    other = new_ticket(office, POWER[1], category="0902", address="台山市台城街道石花路2号")
    repeat = new_ticket(office, POWER[1] + "！", phone="13700000099")
    ok(office.act("agent", repeat, "merge", {"into": other}))
    group = ok(
        office.post(
            "dispatcher", "/incidents", {"references": [other], "parent": main, "title": "停电"}
        )
    )
    moved = ok(office.get("agent", f"/tickets/{repeat}"))
    assert moved["merged_into"] == main and moved["incident_group"] == group["id"]
    assert moved["events"][-1]["action"] == "merge_moved"
    assert moved["events"][-1]["data"] == {"into": main, "via": other}
    ok(office.act("agent", main, "hand_to_emergency", {"line": "119"}))  # any way of closing
    assert ok(office.get("agent", f"/tickets/{repeat}"))["closed_at"] is not None
