"""Every side path of the 12345 lifecycle (DOMAIN.md), driven through the API."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline.extensions import db
from hotline.models import KnowledgeGap, ReturnRequest, Ticket, TicketArticle
from hotline.models.base import simulated_now
from tests.api_helpers import new_ticket, ok, refused

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


SAMPLE_KB = Path(__file__).resolve().parent.parent / "knowledge_base" / "data" / "kb.sample.yaml"


def test_direct_answer_records_articles(staff):
    from knowledge_base.io import import_knowledge_base

    import_knowledge_base(SAMPLE_KB)
    ref = new_ticket(staff, type="consult")
    refused(
        staff.act("agent", ref, "answer_directly", {"articles": ["kb-0404"], "text": "答复"}),
        422,
        "invalid_input",
    )
    t = ok(
        staff.act(
            "agent",
            ref,
            "answer_directly",
            {"articles": ["kb-9001", "kb-9002", "kb-9001"], "text": "按知识库答复"},
        )
    )
    assert t["status"] == "closed" and t["disposition"] == "direct_answer"
    assert t["articles"] == ["kb-9001", "kb-9002"]
    keys = db.session.scalars(select(TicketArticle.article_key)).all()
    assert sorted(keys) == ["kb-9001", "kb-9002"]
    assert db.session.scalars(select(KnowledgeGap)).all() == []


def test_a_direct_answer_without_an_article_is_a_knowledge_gap(staff):
    ref = new_ticket(staff, type="consult", content="请问开平碉楼门票学生有没有优惠")
    ok(staff.act("agent", ref, "answer_directly", {"articles": [], "text": "已告知来电人"}))
    gap = db.session.scalar(select(KnowledgeGap))
    assert gap.reason == "no_article" and "碉楼" in gap.query
    secret = new_ticket(staff, type="consult", content="保密的问题", confidential=True)
    ok(staff.act("agent", secret, "answer_directly", {"articles": [], "text": "已答复"}))
    assert len(db.session.scalars(select(KnowledgeGap)).all()) == 1


def test_reject_needs_a_known_reason(staff):
    ref = new_ticket(staff)
    refused(staff.act("agent", ref, "reject", {"reason": "bored"}), 422, "invalid_input")
    t = ok(staff.act("agent", ref, "reject", {"reason": "litigation", "note": "已进入诉讼"}))
    assert t["status"] == "closed" and t["reject_reason"] == "litigation"


def test_hand_to_emergency_line(staff):
    ref = new_ticket(staff, urgency="emergency")
    refused(staff.act("agent", ref, "hand_to_emergency", {"line": "999"}), 422)
    t = ok(staff.act("agent", ref, "hand_to_emergency", {"line": "122", "note": "交通事故"}))
    assert t["status"] == "closed" and t["emergency_line"] == "122"
    assert t["events"][-1]["data"]["line"] == "122"


def test_merged_duplicate_closes_with_its_main_ticket(staff):
    main = new_ticket(staff)
    dup = new_ticket(staff)
    refused(staff.act("agent", dup, "merge", {"into": dup}), 422)
    refused(staff.act("agent", dup, "merge", {"into": "nope"}), 404)
    t = ok(staff.act("agent", dup, "merge", {"into": main}))
    assert t["status"] == "merged" and t["merged_into"] == main
    third = new_ticket(staff)
    refused(staff.act("agent", third, "merge", {"into": dup}), 422, "rule_violation")
    ok(staff.act("agent", main, "answer_directly", {"articles": [], "text": "已答复"}))
    dup_now = ok(staff.get("agent", f"/tickets/{dup}"))
    assert dup_now["status"] == "merged" and dup_now["closed_at"] is not None
    assert dup_now["events"][-1]["action"] == "close_with_parent"


def test_send_back_approved_and_redispatched_then_refused_as_wrongful(staff):
    ref = new_ticket(staff)
    ok(staff.act("agent", ref, "dispatch", {"department": "PJQ"}))
    refused(staff.act("pjq", ref, "send_back", {"reason": "", "basis": "x"}), 422)
    t = ok(staff.act("pjq", ref, "send_back", {"reason": "不属本区职责", "basis": "三定方案"}))
    assert t["status"] == "return_review"
    t = ok(staff.act("dispatcher", ref, "review_return", {"approve": True, "department": "SCJGJ"}))
    assert t["status"] == "pending_sign" and t["department"] == "SCJGJ"
    assert t["dispatch_round"] == 2
    assert staff.get("pjq", f"/tickets/{ref}").status_code == 403  # no longer PJQ's ticket

    ok(staff.act("scjg", ref, "sign"))
    ok(staff.act("scjg", ref, "send_back", {"reason": "不属本局", "basis": "职责清单"}))
    refused(
        staff.act("dispatcher", ref, "review_return", {"approve": False, "department": "RSJ"}), 422
    )
    t = ok(staff.act("dispatcher", ref, "review_return", {"approve": False, "note": "属于本局"}))
    assert t["status"] == "pending_sign" and t["department"] == "SCJGJ"
    assert t["signed_at"] is None  # the unit must sign again
    requests = db.session.scalars(select(ReturnRequest).order_by(ReturnRequest.id)).all()
    assert [(r.decision, r.wrongful) for r in requests] == [("approved", False), ("rejected", True)]
    ok(staff.act("scjg", ref, "sign"))


def test_designation_after_three_rounds_forbids_send_back(staff):
    ref = new_ticket(staff)
    for unit, who in [("PJQ", "pjq"), ("SCJGJ", "scjg"), ("RSJ", "rsj")]:
        ok(staff.act("dispatcher", ref, "dispatch", {"department": unit}))
        ok(staff.act(who, ref, "send_back", {"reason": "非本单位", "basis": "清单"}))
        ok(staff.act("dispatcher", ref, "review_return", {"approve": True}))
    refused(staff.act("agent", ref, "dispatch", {"department": "PJQ"}), 403)
    t = ok(staff.act("dispatcher", ref, "dispatch", {"department": "PJQ"}))
    assert t["designated"] is True and t["dispatch_round"] == 4
    refused(
        staff.act("pjq", ref, "send_back", {"reason": "非本单位", "basis": "清单"}),
        422,
        "rule_violation",
    )


def test_send_back_window_closes(staff):
    with simulated_now(local("2025-03-03T09:00:00")):  # Monday
        ref = new_ticket(staff)
        ok(staff.act("agent", ref, "dispatch", {"department": "PJQ"}))
    with simulated_now(local("2025-03-05T09:00:00")):  # window: end of 03-04
        error = refused(
            staff.act("pjq", ref, "send_back", {"reason": "x", "basis": "y"}), 422, "rule_violation"
        )
    assert "send_back_due_at" in error["details"]


def test_complex_tickets_get_two_days_to_send_back(staff):
    with simulated_now(local("2025-03-03T09:00:00")):
        ref = new_ticket(staff, urgency="complex")
        ok(staff.act("agent", ref, "dispatch", {"department": "PJQ"}))
    with simulated_now(local("2025-03-05T09:00:00")):
        ok(staff.act("pjq", ref, "send_back", {"reason": "x", "basis": "y"}))


def test_extension_limits(staff):
    ref = new_ticket(staff)
    ok(staff.act("agent", ref, "dispatch", {"department": "PJQ"}))
    refused(staff.act("pjq", ref, "request_extension", {"days": 3, "reason": "x"}), 409)
    ok(staff.act("pjq", ref, "sign"))
    refused(staff.act("pjq", ref, "request_extension", {"days": 11, "reason": "x"}), 422)
    refused(staff.act("pjq", ref, "request_extension", {"days": 0, "reason": "x"}), 422)
    ok(staff.act("pjq", ref, "request_extension", {"days": 3, "reason": "需协调"}))
    t = ok(staff.act("dispatcher", ref, "review_extension", {"approve": False}))
    assert t["status"] == "in_progress" and t["extension_count"] == 0
    before = t["due_at"]
    ok(staff.act("pjq", ref, "request_extension", {"days": 3, "reason": "需协调"}))
    t = ok(staff.act("dispatcher", ref, "review_extension", {"approve": True}))
    assert t["extension_count"] == 1 and t["due_at"] > before
    refused(
        staff.act("pjq", ref, "request_extension", {"days": 2, "reason": "再延"}),
        422,
        "rule_violation",
    )


def _to_visit(staff, ref: str) -> None:  # type: ignore[no-untyped-def]
    ok(staff.act("agent", ref, "dispatch", {"department": "PJQ"}))
    ok(staff.act("pjq", ref, "sign"))
    ok(staff.act("pjq", ref, "reply", {"result": "solved", "text": "已处理"}))
    ok(staff.act("dispatcher", ref, "review_reply", {"approve": True}))


def test_reply_review_can_send_the_reply_back(staff):
    ref = new_ticket(staff)
    ok(staff.act("agent", ref, "dispatch", {"department": "PJQ"}))
    ok(staff.act("pjq", ref, "sign"))
    refused(staff.act("pjq", ref, "reply", {"result": "maybe", "text": "x"}), 422)
    ok(staff.act("pjq", ref, "reply", {"result": "explained", "text": "解释说明"}))
    t = ok(staff.act("supervisor", ref, "review_reply", {"approve": False, "note": "答复不完整"}))
    assert t["status"] == "in_progress" and t["replied_at"] is None


def test_unreachable_caller_closes_after_configured_attempts(staff, app):
    ref = new_ticket(staff)
    _to_visit(staff, ref)
    attempts = app.config["VISIT_MAX_ATTEMPTS"]
    for _ in range(attempts - 1):
        assert ok(staff.act("agent", ref, "visit", {"reached": False}))["status"] == "pending_visit"
    t = ok(staff.act("agent", ref, "visit", {"reached": False}))
    assert t["status"] == "closed" and t["disposition"] == "unreachable"
    assert t["visit_attempts"] == attempts


def test_visit_needs_ratings_and_dissatisfied_without_redo_closes(staff):
    ref = new_ticket(staff)
    _to_visit(staff, ref)
    refused(staff.act("agent", ref, "visit", {"reached": True}), 422)
    t = ok(
        staff.act(
            "agent",
            ref,
            "visit",
            {"reached": True, "solved": "partly", "satisfaction": "dissatisfied", "redo": False},
        )
    )
    assert t["status"] == "closed" and t["redo_count"] == 0


def test_urge_and_supervise_keep_the_state(staff):
    ref = new_ticket(staff)
    ok(staff.act("agent", ref, "dispatch", {"department": "PJQ"}))
    t = ok(staff.act("dispatcher", ref, "urge", {"note": "请尽快签收"}))
    assert t["status"] == "pending_sign" and t["urge_count"] == 1
    refused(staff.act("dispatcher", ref, "supervise", {"note": "督办"}), 403)
    t = ok(staff.act("supervisor", ref, "supervise", {"note": "挂牌督办"}))
    assert t["supervise_count"] == 1
    assert [e["action"] for e in t["events"]][-2:] == ["urge", "supervise"]
    ok(staff.act("agent", new_ref := new_ticket(staff), "reject", {"reason": "invalid"}))
    refused(staff.act("supervisor", new_ref, "urge", {"note": "x"}), 409)


def test_signing_twice_is_a_conflict(staff):
    ref = new_ticket(staff)
    ok(staff.act("agent", ref, "dispatch", {"department": "PJQ", "assisting": ["RSJ"]}))
    ok(staff.act("rsj", ref, "sign"))  # an assisting unit signs its part
    t = ok(staff.get("agent", f"/tickets/{ref}"))
    assert t["status"] == "pending_sign"
    ok(staff.act("pjq", ref, "sign"))
    refused(staff.act("pjq", ref, "sign"), 409)
    refused(staff.act("rsj", ref, "sign"), 409)
    refused(staff.act("agent", ref, "dispatch", {"department": "PJQ", "assisting": ["PJQ"]}), 409)


@pytest.mark.parametrize(
    ("urgency", "sign_due", "due"),
    [
        # emergency: sign in 15 minutes, handle in 2 hours, calendar time
        ("emergency", "2025-10-01T10:15:00+08:00", "2025-10-01T12:00:00+08:00"),
        # utilities: 30 minutes and 24 hours, even on a holiday
        ("utilities", "2025-10-01T10:30:00+08:00", "2025-10-02T10:00:00+08:00"),
    ],
)
def test_urgent_clocks_run_in_calendar_time(staff, urgency, sign_due, due):
    with simulated_now(local("2025-10-01T10:00:00")):  # National Day holiday
        ref = new_ticket(staff, urgency=urgency, type="help")
        t = ok(staff.act("agent", ref, "dispatch", {"department": "PJQ"}))
    assert (t["sign_due_at"], t["due_at"]) == (sign_due, due)


def test_dispatch_keeps_the_catalogue_version(staff):
    ref = new_ticket(staff, category="0101")
    ok(staff.act("agent", ref, "dispatch", {"department": "SCJGJ"}))
    t = ok(staff.get("agent", f"/tickets/{ref}"))
    assert t["catalogue_version"] == 1
    assert db.session.scalar(select(Ticket.catalogue_version_id)) is not None
