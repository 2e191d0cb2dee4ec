"""Who may do what through the JSON API: the role matrix, unit scoping, identity rights,
list filters and idempotent creation (DESIGN.md "Security and personal data", "JSON API")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from hotline.extensions import db
from hotline.models import Event, Ticket
from hotline.models.base import simulated_now

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Every role once; the handler is the one of the unit holding the ticket, so a 403 for it
# comes from its role, not from not seeing the ticket.
ROLES = ("agent", "dispatcher", "supervisor", "admin", "editor", "scjg")
PHONE = "13812345678"


@pytest.fixture(autouse=True)
def _tuesday_morning() -> Iterator[None]:
    """An ordinary working day, so send-back windows and deadlines never hit a holiday."""
    with simulated_now(datetime(2025, 6, 10, 10, 0, tzinfo=SHANGHAI)):
        yield


def create(staff: Any, who: str = "agent", **extra: Any) -> str:
    body = {
        "channel": "phone",
        "type": "complaint",
        "content": "超市出售过期牛奶，要求查处。",
        "phone": PHONE,
        "name": "张三丰",
        "category": "0101",
        **extra,
    }
    response = staff.post(who, "/tickets", body)
    assert response.status_code == 201, response.json
    return response.json["reference"]


def act(staff: Any, who: str, ref: str, action: str, body: Any = None) -> dict[str, Any]:
    response = staff.act(who, ref, action, body)
    assert response.status_code == 200, (who, action, response.json)
    return response.json


def references(response: Any) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["reference"] for item in response.json["items"]]


# ---- states each matrix action starts from -------------------------------------------


def accepted(staff: Any) -> str:
    return create(staff)


def pending_sign(staff: Any) -> str:
    ref = create(staff)
    act(staff, "agent", ref, "dispatch", {"department": "SCJGJ"})
    return ref


def in_progress(staff: Any) -> str:
    ref = pending_sign(staff)
    act(staff, "scjg", ref, "sign")
    return ref


def return_review(staff: Any) -> str:
    ref = pending_sign(staff)
    act(staff, "scjg", ref, "send_back", {"reason": "不属本单位职责", "basis": "三定方案"})
    return ref


def extension_review(staff: Any) -> str:
    ref = in_progress(staff)
    act(staff, "scjg", ref, "request_extension", {"days": 3, "reason": "需现场检测"})
    return ref


def reply_review(staff: Any) -> str:
    ref = in_progress(staff)
    act(staff, "scjg", ref, "reply", {"result": "solved", "text": "已查处"})
    return ref


def pending_visit(staff: Any) -> str:
    ref = reply_review(staff)
    act(staff, "dispatcher", ref, "review_reply", {"approve": True})
    return ref


OFFICE = {"agent", "dispatcher", "admin"}
REVIEWERS = {"dispatcher", "admin"}
MATRIX: list[tuple[str, Callable[[Any], str], dict[str, Any], set[str]]] = [
    ("dispatch", accepted, {"department": "SCJGJ"}, OFFICE),
    ("review_return", return_review, {"approve": False, "note": "属本单位职责"}, REVIEWERS),
    ("review_extension", extension_review, {"approve": False}, REVIEWERS),
    ("review_reply", reply_review, {"approve": False}, REVIEWERS | {"supervisor"}),
    ("visit", pending_visit, {"reached": False}, OFFICE),
    ("urge", pending_sign, {"note": "请尽快签收"}, REVIEWERS | {"supervisor"}),
    ("supervise", pending_sign, {"note": "督办"}, {"supervisor", "admin"}),
]


def test_who_may_create_tickets(staff):
    observed = {}
    for who in ROLES + ("pjq",):
        body = {"channel": "phone", "type": "consult", "content": f"{who} 咨询社保"}
        observed[who] = staff.post(who, "/tickets", body).status_code
    expected = {who: 201 if who in OFFICE else 403 for who in observed}
    assert observed == expected
    total = db.session.scalar(select(func.count()).select_from(Ticket))
    assert total == len(OFFICE)  # refused requests left nothing behind


@pytest.mark.parametrize(
    ("action", "prepare", "body", "allowed"), MATRIX, ids=[row[0] for row in MATRIX]
)
def test_action_permission_matrix(staff, action, prepare, body, allowed):
    observed: dict[str, int] = {}
    for who in ROLES:
        ref = prepare(staff)  # a fresh ticket each time: an allowed action changes it
        before = staff.get("admin", f"/tickets/{ref}").json
        response = staff.act(who, ref, action, body)
        observed[who] = response.status_code
        if response.status_code == 403:
            assert response.json["error"]["code"] == "forbidden"
            after = staff.get("admin", f"/tickets/{ref}").json
            assert after["status"] == before["status"]
            assert len(after["events"]) == len(before["events"])  # nothing recorded
    assert observed == {who: 200 if who in allowed else 403 for who in ROLES}


def test_handler_lists_and_reads_only_its_units_tickets(staff):
    market = create(staff, content="农贸市场缺斤短两")
    district = create(staff, content="小区门口道路破损")
    undispatched = create(staff, content="咨询公积金提取")
    act(staff, "agent", market, "dispatch", {"department": "SCJGJ"})
    act(staff, "agent", district, "dispatch", {"department": "PJQ"})

    assert references(staff.get("pjq", "/tickets")) == [district]
    assert staff.get("pjq", "/tickets").json["total"] == 1
    assert references(staff.get("scjg", "/tickets")) == [market]
    assert references(staff.get("rsj", "/tickets")) == []
    assert set(references(staff.get("supervisor", "/tickets"))) == {market, district, undispatched}

    assert staff.get("pjq", f"/tickets/{district}").status_code == 200
    for ref in (market, undispatched):
        response = staff.get("pjq", f"/tickets/{ref}")
        assert response.status_code == 403
        assert response.json["error"]["code"] == "forbidden"
        assert "title" not in response.json  # nothing of the ticket leaks into the refusal
    # filtering for another unit does not widen what the handler sees
    assert references(staff.get("pjq", "/tickets?department=SCJGJ")) == []
    # nor can it act on another unit's ticket
    assert staff.act("pjq", market, "sign").status_code == 403
    assert staff.act("pjq", market, "contact", {"method": "phone"}).status_code == 403


@pytest.mark.parametrize("redispatch_to", [None, "RSJ"])
def test_the_old_unit_loses_a_ticket_once_its_send_back_is_approved(staff, redispatch_to):
    ref = create(staff)
    act(staff, "agent", ref, "dispatch", {"department": "PJQ"})
    act(staff, "pjq", ref, "sign")
    act(staff, "pjq", ref, "send_back", {"reason": "属市场监管职责", "basis": "权责清单"})
    assert staff.get("pjq", f"/tickets/{ref}").status_code == 200  # still under review

    review: dict[str, Any] = {"approve": True, "note": "同意退回"}
    if redispatch_to:
        review["department"] = redispatch_to
    ticket = act(staff, "dispatcher", ref, "review_return", review)
    assert ticket["status"] == ("pending_sign" if redispatch_to else "accepted")
    assert ticket["department"] == redispatch_to

    assert staff.get("pjq", f"/tickets/{ref}").status_code == 403
    assert ref not in references(staff.get("pjq", "/tickets"))
    assert staff.act("pjq", ref, "sign").status_code == 403
    if redispatch_to:
        assert references(staff.get("rsj", "/tickets")) == [ref]
        act(staff, "rsj", ref, "sign")
    else:
        assert references(staff.get("rsj", "/tickets")) == []


def test_a_refused_send_back_stays_with_the_unit(staff):
    ref = create(staff)
    act(staff, "agent", ref, "dispatch", {"department": "PJQ"})
    act(staff, "pjq", ref, "send_back", {"reason": "不归我们管", "basis": "无"})
    ticket = act(staff, "dispatcher", ref, "review_return", {"approve": False})
    assert ticket["status"] == "pending_sign"
    assert references(staff.get("pjq", "/tickets")) == [ref]
    act(staff, "pjq", ref, "sign")


def test_assisting_unit_sees_and_signs_but_cannot_reply_or_send_back(staff):
    ref = create(staff)
    ticket = act(staff, "agent", ref, "dispatch", {"department": "SCJGJ", "assisting": ["RSJ"]})
    assert {(a["department"], a["role"]) for a in ticket["assignments"]} == {
        ("SCJGJ", "lead"),
        ("RSJ", "assist"),
    }
    assert references(staff.get("rsj", "/tickets")) == [ref]
    assert staff.get("rsj", f"/tickets/{ref}").status_code == 200
    assert staff.get("pjq", f"/tickets/{ref}").status_code == 403  # not involved

    # the assisting unit signs its part; only the lead's signature starts the handling
    ticket = act(staff, "rsj", ref, "sign")
    assert ticket["status"] == "pending_sign"
    assert staff.act("rsj", ref, "sign").status_code == 409  # signed once
    assert staff.act("rsj", ref, "send_back", {"reason": "x", "basis": "y"}).status_code == 403
    ticket = act(staff, "scjg", ref, "sign")
    assert ticket["status"] == "in_progress"

    refused = {
        "reply": {"result": "solved", "text": "协办单位答复"},
        "send_back": {"reason": "不属协办职责", "basis": "无"},
        "request_extension": {"days": 2, "reason": "协办需要时间"},
    }
    for action, body in refused.items():
        response = staff.act("rsj", ref, action, body)
        assert response.status_code == 403, (action, response.json)
    assert staff.get("admin", f"/tickets/{ref}").json["status"] == "in_progress"
    # the lead can
    assert act(staff, "scjg", ref, "reply", {"result": "solved", "text": "已办结"})


def caller_seen_by(staff: Any, who: str, ref: str) -> dict[str, Any]:
    response = staff.get(who, f"/tickets/{ref}")
    assert response.status_code == 200, response.json
    listed = [i for i in staff.get(who, "/tickets").json["items"] if i["reference"] == ref]
    assert listed and listed[0]["caller"] == response.json["caller"]  # list and detail agree
    return response.json["caller"]


def test_confidential_caller_is_hidden_from_the_unit_and_masked_for_supervisors(staff):
    ref = create(staff, confidential=True)
    act(staff, "agent", ref, "dispatch", {"department": "PJQ"})

    handler = caller_seen_by(staff, "pjq", ref)
    assert (handler["name"], handler["phone"], handler["identity"]) == (None, None, "hidden")
    assert handler["confidential"] is True
    assert PHONE[-4:] not in str(staff.get("pjq", f"/tickets/{ref}").json)

    supervisor = caller_seen_by(staff, "supervisor", ref)
    assert (supervisor["name"], supervisor["phone"], supervisor["identity"]) == (
        "张**",
        "138****5678",
        "masked",
    )
    for who in ("agent", "dispatcher", "admin"):
        full = caller_seen_by(staff, who, ref)
        assert (full["name"], full["phone"], full["identity"]) == (
            "张三丰",
            "+8613812345678",
            "full",
        )


def test_non_confidential_caller_is_shown_to_the_unit(staff):
    ref = create(staff)
    act(staff, "agent", ref, "dispatch", {"department": "PJQ"})
    handler = caller_seen_by(staff, "pjq", ref)
    assert (handler["name"], handler["phone"], handler["identity"]) == (
        "张三丰",
        "+8613812345678",
        "full",
    )
    supervisor = caller_seen_by(staff, "supervisor", ref)
    assert supervisor["phone"] == "138****5678"


def test_phone_filter_does_not_reveal_a_confidential_caller_to_the_unit(staff):
    secret = create(staff, confidential=True, content="举报单位拖欠工资")
    ordinary = create(staff, content="咨询办事流程")
    for ref in (secret, ordinary):
        act(staff, "agent", ref, "dispatch", {"department": "PJQ"})
    # the handler sees the number on the ordinary ticket ...
    phone = staff.get("pjq", f"/tickets/{ordinary}").json["caller"]["phone"]
    assert phone == "+8613812345678"
    # ... and must not be able to use it to find out who filed the confidential one
    response = staff.get("pjq", "/tickets", query_string={"phone": phone})
    assert response.status_code != 200 or secret not in references(response)


def test_editor_reads_no_tickets(staff):
    ref = create(staff)
    response = staff.get("editor", "/tickets")
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert staff.get("editor", f"/tickets/{ref}").status_code == 403


def test_list_filters_and_paging(staff):
    web = create(staff, channel="web", phone="13900001111", content="网上反映噪音")
    phoned = [create(staff, content=f"电话反映第{i}件") for i in range(4)]
    act(staff, "agent", phoned[0], "dispatch", {"department": "SCJGJ"})
    act(staff, "agent", phoned[1], "dispatch", {"department": "PJQ"})
    act(staff, "scjg", phoned[0], "sign")

    def listed(**query: str) -> list[str]:
        return references(staff.get("dispatcher", "/tickets", query_string=query))

    assert listed(channel="web") == [web]
    assert set(listed(channel="phone")) == set(phoned)
    assert listed(status="in_progress") == [phoned[0]]
    assert set(listed(status="in_progress,pending_sign")) == {phoned[0], phoned[1]}
    assert set(listed(status="accepted")) == {web, phoned[2], phoned[3]}
    assert listed(department="PJQ") == [phoned[1]]
    assert listed(department="RSJ") == []
    assert set(listed(phone="138 1234 5678")) == set(phoned)
    assert listed(phone="+86 139-0000-1111") == [web]
    assert listed(phone="13700000000") == []
    assert listed(channel="phone", status="accepted", phone=PHONE) == phoned[2:][::-1]

    everything = listed()
    assert len(everything) == 5 and set(everything) == {web, *phoned}
    pages = []
    for page in (1, 2, 3):
        body = staff.get("dispatcher", f"/tickets?per_page=2&page={page}").json
        assert (body["total"], body["page"], body["per_page"]) == (5, page, 2)
        pages.append([i["reference"] for i in body["items"]])
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [ref for p in pages for ref in p] == everything  # same order, no gaps or repeats
    beyond = staff.get("dispatcher", "/tickets?per_page=2&page=4").json
    assert (beyond["items"], beyond["total"]) == ([], 5)


@pytest.fixture
def agent(api: Any) -> Any:
    """One office user is enough for input validation (no catalogue needed)."""
    api.user("agent", "agent")
    return api


@pytest.mark.parametrize(
    "query",
    [
        "status=bogus",
        "status=closed,bogus",
        "status=closed,",
        "channel=pigeon",
        "department=NOPE",
        "phone=12345",
        "phone=not-a-number",
        "page=0",
        "page=-1",
        "page=abc",
        "per_page=0",
        "per_page=501",
        "per_page=1.5",
    ],
)
def test_invalid_list_filters_are_refused_with_422(agent, query):
    response = agent.get("agent", f"/tickets?{query}")
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "invalid_input"
    field = query.split("=")[0]
    assert response.json["error"]["details"]["field"] == field


def post_with_key(staff: Any, body: dict[str, Any], key: str | None) -> Any:
    headers = {**staff.headers("agent"), **({"Idempotency-Key": key} if key else {})}
    return staff.client.post("/api/v1/tickets", json=body, headers=headers)


def test_idempotency_key_returns_the_first_ticket(staff):
    body = {"channel": "api", "type": "consult", "content": "咨询社保卡补办", "phone": PHONE}
    key = "3f1c2a9e-7c1b-4d7e-9d8a-0b6f1f2e3a4b"
    first = post_with_key(staff, body, key)
    second = post_with_key(staff, body, key)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json["reference"] == first.json["reference"]
    assert second.headers["Location"] == first.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1
    accepts = select(func.count()).select_from(Event).where(Event.action == "accept")
    assert db.session.scalar(accepts) == 1

    other = post_with_key(staff, body, "another-key")
    assert other.status_code == 201
    assert other.json["reference"] != first.json["reference"]
    without = post_with_key(staff, body, None)
    assert without.status_code == 201
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 3


def test_distinct_long_idempotency_keys_do_not_collide(staff):
    body = {"channel": "api", "type": "consult", "content": "咨询社保卡补办"}
    prefix = "order-" + "0" * 60
    first = post_with_key(staff, body, prefix + "-a")
    second = post_with_key(staff, body, prefix + "-b")
    assert first.status_code == 201
    # either refuse an over-long key, or treat it as the different key it is
    assert second.status_code in (201, 422)
    if second.status_code == 201:
        assert second.json["reference"] != first.json["reference"]
