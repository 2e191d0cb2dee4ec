"""Dispatch rules (按责转办) through the API, beyond test_lifecycle_paths: what lead and
assisting units see and may do, round numbering across send-backs, designation after
the configured rounds, wrongful-return counting, and the routing decision each
dispatch records (suggested vs chosen: overrides are a KPI and training data)."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hotline.extensions import db
from hotline.models import Category, Department, ReturnRequest, RoutingDecision, Territory, utcnow
from routing.quality import override_rate, return_rates
from tests.api_helpers import new_ticket, ok, refused

SEND_BACK = {"reason": "不属本单位职责", "basis": "权责清单"}


def listed(staff, who: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {t["reference"] for t in ok(staff.get(who, "/tickets"))["items"]}


def decisions() -> list[RoutingDecision]:
    return list(db.session.scalars(select(RoutingDecision).order_by(RoutingDecision.id)))


def code_of(model: Any, row_id: int | None) -> str | None:
    return db.session.get(model, row_id).code if row_id is not None else None


# --------------------------------------------------------------------------- units and rounds


def test_lead_and_assisting_units_each_see_the_ticket_and_keep_to_their_part(staff):
    ref = new_ticket(staff)
    ok(staff.act("dispatcher", ref, "dispatch", {"department": "PJQ", "assisting": ["SCJGJ"]}))
    for unit in ("pjq", "scjg"):
        assert ok(staff.get(unit, f"/tickets/{ref}"))["department"] == "PJQ"
        assert ref in listed(staff, unit)
    refused(staff.get("rsj", f"/tickets/{ref}"), 403)
    assert ref not in listed(staff, "rsj")
    detail = ok(staff.get("scjg", f"/tickets/{ref}"))
    assert {(a["department"], a["role"]) for a in detail["assignments"]} == {
        ("PJQ", "lead"),
        ("SCJGJ", "assist"),
    }

    refused(staff.act("scjg", ref, "send_back", SEND_BACK), 403)  # only the lead sends back
    ok(staff.act("scjg", ref, "sign"))  # its own part: the ticket still waits for the lead
    assert ok(staff.get("agent", f"/tickets/{ref}"))["status"] == "pending_sign"
    ok(staff.act("pjq", ref, "sign"))
    ok(staff.act("scjg", ref, "contact", {"method": "phone", "note": "协办单位已联系"}))
    refused(staff.act("scjg", ref, "reply", {"result": "solved", "text": "x"}), 403)
    refused(staff.act("scjg", ref, "request_extension", {"days": 2, "reason": "x"}), 403)
    ok(staff.act("pjq", ref, "reply", {"result": "solved", "text": "已处理"}))

    # An approved send-back takes the ticket from both units of the round.
    other = new_ticket(staff)
    ok(staff.act("dispatcher", other, "dispatch", {"department": "PJQ", "assisting": ["SCJGJ"]}))
    ok(staff.act("pjq", other, "send_back", SEND_BACK))
    ok(staff.act("dispatcher", other, "review_return", {"approve": True, "department": "RSJ"}))
    for unit in ("pjq", "scjg"):
        refused(staff.get(unit, f"/tickets/{other}"), 403)
        assert other not in listed(staff, unit)
    assert other in listed(staff, "rsj")


def test_rounds_are_numbered_across_send_backs(staff):
    ref = new_ticket(staff)
    ok(staff.act("agent", ref, "dispatch", {"department": "PJQ", "assisting": ["RSJ"]}))
    ok(staff.act("pjq", ref, "send_back", SEND_BACK))
    ok(staff.act("dispatcher", ref, "review_return", {"approve": True}))
    t = ok(staff.get("agent", f"/tickets/{ref}"))
    assert t["status"] == "accepted" and t["department"] is None and t["dispatch_round"] == 1
    ok(staff.act("agent", ref, "dispatch", {"department": "SCJGJ"}))
    ok(staff.act("scjg", ref, "sign"))
    ok(staff.act("scjg", ref, "send_back", SEND_BACK))
    t = ok(staff.act("dispatcher", ref, "review_return", {"approve": True, "department": "PJQ"}))
    assert t["dispatch_round"] == 3 and t["status"] == "pending_sign"
    assert [(a["round"], a["department"], a["role"], a["state"]) for a in t["assignments"]] == [
        (1, "PJQ", "lead", "returned"),
        (1, "RSJ", "assist", "returned"),
        (2, "SCJGJ", "lead", "returned"),
        (3, "PJQ", "lead", "active"),
    ]
    dispatches = [e["data"] for e in t["events"] if e["action"] == "dispatch"]
    assert [(d["round"], d["department"], d["designated"]) for d in dispatches] == [
        (1, "PJQ", False),
        (2, "SCJGJ", False),
        (3, "PJQ", False),
    ]
    returns = db.session.scalars(select(ReturnRequest).order_by(ReturnRequest.id)).all()
    assert [(r.round, r.department.code) for r in returns] == [(1, "PJQ"), (2, "SCJGJ")]


def test_designation_follows_the_configured_number_of_rounds(staff, app):
    app.config["MAX_DISPATCH_ROUNDS"] = 2
    ref = new_ticket(staff)
    for unit, who in [("PJQ", "pjq"), ("SCJGJ", "scjg")]:
        t = ok(staff.act("agent", ref, "dispatch", {"department": unit}))
        assert t["designated"] is False
        ok(staff.act(who, ref, "send_back", SEND_BACK))
        ok(staff.act("dispatcher", ref, "review_return", {"approve": True}))
    error = refused(staff.act("agent", ref, "dispatch", {"department": "RSJ"}), 403, "forbidden")
    assert "2" in error["message"] and error["details"]["rounds"] == 2
    t = ok(staff.act("dispatcher", ref, "dispatch", {"department": "RSJ"}))
    assert t["designated"] is True and t["dispatch_round"] == 3
    refused(staff.act("rsj", ref, "send_back", SEND_BACK), 422, "rule_violation")
    ok(staff.act("rsj", ref, "sign"))


def test_a_redispatch_on_review_is_designated_once_the_rounds_are_used(staff, app):
    app.config["MAX_DISPATCH_ROUNDS"] = 1
    ref = new_ticket(staff)
    ok(staff.act("agent", ref, "dispatch", {"department": "PJQ"}))
    ok(staff.act("pjq", ref, "send_back", SEND_BACK))
    t = ok(staff.act("dispatcher", ref, "review_return", {"approve": True, "department": "SCJGJ"}))
    assert t["designated"] is True and t["dispatch_round"] == 2
    refused(staff.act("scjg", ref, "send_back", SEND_BACK), 422, "rule_violation")


def test_wrongful_returns_are_counted_per_unit(staff):
    since = utcnow() - timedelta(minutes=1)
    refused_back = new_ticket(staff)
    ok(staff.act("agent", refused_back, "dispatch", {"department": "PJQ"}))
    ok(staff.act("pjq", refused_back, "send_back", SEND_BACK))
    ok(staff.act("dispatcher", refused_back, "review_return", {"approve": False, "note": "属本区"}))
    ok(staff.act("pjq", refused_back, "sign"))
    approved_back = new_ticket(staff)
    ok(staff.act("agent", approved_back, "dispatch", {"department": "PJQ"}))
    ok(staff.act("pjq", approved_back, "send_back", SEND_BACK))
    ok(
        staff.act(
            "dispatcher", approved_back, "review_return", {"approve": True, "department": "RSJ"}
        )
    )
    kept = new_ticket(staff)
    ok(staff.act("agent", kept, "dispatch", {"department": "RSJ", "assisting": ["SCJGJ"]}))

    rows = {r.department: r for r in return_rates(since, utcnow() + timedelta(minutes=1))}
    pjq, rsj = rows["PJQ"], rows["RSJ"]
    assert (pjq.assignments, pjq.returns, pjq.wrongful) == (2, 2, 1)
    assert (pjq.return_rate, pjq.wrongful_return_rate) == (1.0, 0.5)
    assert (rsj.assignments, rsj.returns, rsj.wrongful, rsj.wrongful_return_rate) == (2, 0, 0, None)
    assert "SCJGJ" not in rows  # assisting units neither lead nor send back
    total = rows[None]
    assert (total.name, total.assignments, total.returns, total.wrongful) == ("合计", 4, 2, 1)
    [nothing] = return_rates(utcnow() + timedelta(hours=1), utcnow() + timedelta(hours=2))
    assert (nothing.assignments, nothing.return_rate, nothing.wrongful_return_rate) == (
        0,
        None,
        None,
    )


# --------------------------------------------------------------------------- routing decisions

SUGGESTED = [
    {"category": "0605", "department": "PJQ", "territory": "440703002", "score": 0.81,
     "reasons": ["关键词：油烟", "属地管理 → 蓬江区"], "department_name": "蓬江区"},
    {"category": "0201", "department": "STHJJ", "territory": "440703002", "score": 0.12,
     "reasons": ["关键词：废气"]},
    {"category": "0101", "department": "SCJGJ", "territory": None, "score": 0.05, "reasons": []},
    {"category": "0102", "department": "SCJGJ", "territory": None, "score": 0.01, "reasons": []},
]  # fmt: skip


@pytest.fixture
def no_routing_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """As before the routing engine lands: `import routing.suggest` fails."""
    monkeypatch.setitem(sys.modules, "routing.suggest", None)


@dataclass
class FakeSuggestion:
    """The documented shape of routing.suggest's suggestions."""

    category: str | None
    department: str
    territory: str | None
    score: float
    reasons: list[str] = field(default_factory=list)


@pytest.fixture
def routing_engine(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """A stand-in `routing.suggest` that records how it was asked."""
    calls: list[dict[str, Any]] = []

    def suggest(
        text: str,
        address: str | None = None,
        phone: str | None = None,
        lat: float | None = None,
        lng: float | None = None,
    ) -> list[FakeSuggestion]:
        calls.append({"text": text, "address": address, "phone": phone, "lat": lat, "lng": lng})
        return [
            FakeSuggestion("0605", "PJQ", "440703002", 0.7, ["关键词：油烟"]),
            FakeSuggestion("0101", "SCJGJ", None, 0.2, ["关键词：烧烤店"]),
        ]

    module = types.ModuleType("routing.suggest")
    module.suggest = suggest  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "routing.suggest", module)
    return calls


@pytest.mark.parametrize(
    ("unit", "rank", "overridden"),
    [("PJQ", 1, False), ("STHJJ", 2, True), ("SCJGJ", 3, True), ("RSJ", None, True)],
)
def test_dispatch_records_what_was_suggested_and_chosen(staff, unit, rank, overridden):
    ref = new_ticket(staff, category="0605")
    body = {"department": unit, "suggestions": SUGGESTED}
    t = ok(staff.act("agent", ref, "dispatch", body))
    [decision] = decisions()
    assert decision.suggestions[0] == {
        "category": "0605",
        "department": "PJQ",
        "territory": "440703002",
        "score": 0.81,
        "reasons": ["关键词：油烟", "属地管理 → 蓬江区"],
    }
    assert [s["department"] for s in decision.suggestions] == ["PJQ", "STHJJ", "SCJGJ"]
    assert (decision.followed_rank, decision.overridden) == (rank, overridden)
    assert code_of(Department, decision.chosen_department_id) == unit
    assert code_of(Category, decision.chosen_category_id) == "0605"
    assert decision.decided_by_id is not None and decision.catalogue_version_id is not None
    # The followed suggestion's place is kept when the ticket has none yet.
    expected_place = "440703002" if rank in (1, 2) else None
    assert code_of(Territory, decision.chosen_territory_id) == expected_place
    assert t["routing"]["overridden"] is overridden and t["routing"]["followed_rank"] == rank
    assert t["events"][-1]["data"]["overridden"] is overridden


def test_without_a_routing_engine_dispatch_records_no_suggestions(staff, no_routing_engine):
    ref = new_ticket(staff)
    ok(staff.act("agent", ref, "dispatch", {"department": "PJQ"}))
    [decision] = decisions()
    assert decision.suggestions == [] and decision.followed_rank is None
    assert decision.overridden is False  # nothing was suggested, so nothing was overridden
    assert "overridden" not in ok(staff.get("agent", f"/tickets/{ref}"))["events"][-1]["data"]


def test_the_server_asks_routing_when_the_console_sends_no_suggestions(staff, routing_engine):
    ref = new_ticket(
        staff, content="楼下烧烤店油烟直排", address="蓬江区白沙街道建设路32号", phone="13812345678"
    )
    ok(staff.act("agent", ref, "dispatch", {"department": "SCJGJ"}))
    assert routing_engine == [
        {
            "text": "楼下烧烤店油烟直排",
            "address": "蓬江区白沙街道建设路32号",
            "phone": "+8613812345678",
            "lat": None,
            "lng": None,
        }
    ]
    [decision] = decisions()
    assert [s["department"] for s in decision.suggestions] == ["PJQ", "SCJGJ"]
    assert (decision.followed_rank, decision.overridden) == (2, True)
    ok(staff.act("agent", new_ticket(staff), "dispatch", {"department": "PJQ", "suggestions": []}))
    assert len(routing_engine) == 1  # what the console sent (even nothing) is what was shown


def test_with_the_real_routing_engine_dispatch_records_its_suggestions(staff):
    pytest.importorskip("routing.suggest", reason="the routing engine has not landed yet")
    ref = new_ticket(staff, content="楼下烧烤店油烟直排，熏到家里", address="蓬江区白沙街道建设路")
    ok(staff.act("agent", ref, "dispatch", {"department": "PJQ"}))
    [decision] = decisions()
    assert 1 <= len(decision.suggestions) <= 3
    units = [s["department"] for s in decision.suggestions]
    expected = units.index("PJQ") + 1 if "PJQ" in units else None
    assert decision.followed_rank == expected and decision.overridden == (expected != 1)


def test_every_redispatch_records_a_decision(staff, no_routing_engine):
    ref = new_ticket(staff)
    ok(staff.act("agent", ref, "dispatch", {"department": "PJQ", "suggestions": SUGGESTED}))
    ok(staff.act("pjq", ref, "send_back", SEND_BACK))
    ok(staff.act("dispatcher", ref, "review_return", {"approve": True, "department": "SCJGJ"}))
    assert [(code_of(Department, d.chosen_department_id), d.overridden) for d in decisions()] == [
        ("PJQ", False),
        ("SCJGJ", False),  # re-dispatched on review: routing (absent) suggested nothing
    ]


def test_the_agent_may_reclassify_and_place_the_ticket_at_dispatch(staff, no_routing_engine):
    ref = new_ticket(staff, category="0201")
    body = {"department": "PJQ", "category": "0605", "territory": "440703002"}
    t = ok(staff.act("agent", ref, "dispatch", body))
    assert t["category"] == "0605" and t["territory"] == "440703002"
    assert t["events"][-1]["data"]["category"] == "0605"
    assert t["events"][-1]["data"]["previous_category"] == "0201"
    [decision] = decisions()
    assert code_of(Category, decision.chosen_category_id) == "0605"
    assert code_of(Territory, decision.chosen_territory_id) == "440703002"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"department": "PJQ", "category": "06"}, 404),  # first-level: not routable
        ({"department": "PJQ", "category": "9999"}, 404),
        ({"department": "PJQ", "territory": "999999"}, 404),
        ({"department": "PJQ", "category": ""}, 422),
        ({"department": "PJQ", "suggestions": [{"department": "PJQ", "score": "high"}]}, 422),
        ({"department": "PJQ", "suggestions": "PJQ"}, 422),
        ({"department": "PJQ", "suggestions": [{"department": "PJQ"}] * 11}, 422),
        ({"department": "PJQ", "routing": "yes"}, 422),  # unknown field
    ],
)
def test_bad_dispatch_bodies_are_refused_and_change_nothing(staff, body, status):
    ref = new_ticket(staff, category="0201")
    refused(staff.act("agent", ref, "dispatch", body), status)
    t = ok(staff.get("agent", f"/tickets/{ref}"))
    assert (t["status"], t["category"], t["territory"]) == ("accepted", "0201", None)
    assert decisions() == []


def test_override_rate_per_unit(staff):
    since = utcnow() - timedelta(minutes=1)
    for unit in ("PJQ", "PJQ", "STHJJ", "SCJGJ"):
        ok(
            staff.act(
                "agent",
                new_ticket(staff),
                "dispatch",
                {"department": unit, "suggestions": SUGGESTED},
            )
        )
    ok(staff.act("agent", new_ticket(staff), "dispatch", {"department": "RSJ", "suggestions": []}))
    rows = {r.department: r for r in override_rate(since, utcnow() + timedelta(minutes=1))}
    assert set(rows) == {"PJQ", "STHJJ", "SCJGJ", None}  # RSJ: nothing suggested, not counted
    assert (rows["PJQ"].dispatches, rows["PJQ"].overridden, rows["PJQ"].rate) == (2, 0, 0.0)
    assert (rows["STHJJ"].overridden, rows["STHJJ"].rate) == (1, 1.0)
    assert (rows[None].dispatches, rows[None].overridden, rows[None].rate) == (4, 2, 0.5)
    [total] = override_rate(utcnow() + timedelta(hours=1), utcnow() + timedelta(hours=2))
    assert (total.dispatches, total.rate) == (0, None)
