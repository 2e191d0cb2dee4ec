"""The review workflow and its rules: versions kept, live answers while a change is in
review, four eyes, expiry, withdrawal, and the 1-working-day rule for service guides."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from hotline.extensions import db
from hotline.models import SystemAlert, User
from hotline.models.base import simulated_now
from knowledge_base import articles
from knowledge_base.search import search

SHANGHAI = ZoneInfo("Asia/Shanghai")
GUIDE = {
    "kind": "guide",
    "title": "居住证办理指南",
    "category": "0704",
    "department": "GAJ",
    "answer": "在本市居住半年以上、有合法稳定就业或住所的，可以到居住地派出所或社区办理居住证。",
    "keywords": ["居住证", "办理", "流动人口"],
    "materials": ["居民身份证", "居住登记凭证"],
    "effective_from": "2026-01-01",
}


@pytest.fixture
def people(staff):
    return {
        name: db.session.scalar(select(User).where(User.username == name))
        for name in ("editor", "admin", "agent")
    }


def _publish(key, people):
    articles.submit_for_review(key, people["editor"])
    return articles.review_version(key, people["admin"], approve=True)


def test_an_article_goes_from_draft_through_review_to_every_channel(people):
    article = articles.create_article(GUIDE, people["editor"])
    assert article.key == "kb-0001" and article.status == "draft"
    assert search("居住证").hits == []  # a draft answers nobody
    version = _publish(article.key, people)
    assert version.state == "published" and version.reviewed_by_id == people["admin"].id
    assert search("居住证", channel="window").hits[0].article.key == "kb-0001"


def test_the_live_version_answers_while_its_change_is_reviewed(people):
    key = articles.create_article(GUIDE, people["editor"]).key
    _publish(key, people)
    changed = {**GUIDE, "answer": GUIDE["answer"] + "也可以通过“粤省事”网上申办。"}
    draft = articles.edit_article(key, changed, people["editor"])
    assert draft.number == 2 and draft.state == "draft"
    assert "粤省事" not in search("居住证").hits[0].snippet
    _publish(key, people)
    hit = search("居住证粤省事").hits[0]
    assert hit.version.number == 2 and "粤省事" in hit.snippet
    states = [v.state for v in db.session.get(type(hit.article), hit.article.id).versions]
    assert states == ["superseded", "published"]
    changes = articles.compare_versions(hit.article, 1, 2)
    assert [c.field for c in changes] == ["body"]
    assert ("insert", "也可以通过“粤省事”网上申办。") in changes[0].diff


def test_nobody_reviews_their_own_version_and_rejection_needs_a_reason(people):
    key = articles.create_article(GUIDE, people["editor"]).key
    articles.submit_for_review(key, people["editor"])
    with pytest.raises(PermissionDenied):
        articles.review_version(key, people["editor"], approve=True)
    with pytest.raises(InvalidInput):
        articles.review_version(key, people["admin"], approve=False, note=" ")
    version = articles.review_version(key, people["admin"], approve=False, note="材料清单不全")
    assert version.state == "rejected"
    with pytest.raises(InvalidTransition):
        articles.publish_version(key, people["admin"])
    with pytest.raises(PermissionDenied):
        articles.create_article({**GUIDE, "title": "别的"}, people["agent"])


def test_titles_are_unique_and_problems_are_all_reported(people):
    articles.create_article(GUIDE, people["editor"])
    with pytest.raises(InvalidInput) as refused:
        articles.create_article({**GUIDE, "kind": "faq", "category": "9999"}, people["editor"])
    fields = [p["field"] for p in refused.value.details["problems"]]
    assert fields == ["kind", "category", "materials", "title"]


def test_expired_articles_hide_themselves_and_withdrawn_ones_go_at_once(people):
    key = articles.create_article(
        # Today in the city (the machine's own date differs from 16:00 to 24:00 UTC).
        {**GUIDE, "effective_to": datetime.now(SHANGHAI).date().isoformat()},
        people["editor"],
    ).key
    _publish(key, people)
    assert search("居住证").hits
    tomorrow = datetime.now(SHANGHAI) + timedelta(days=1)
    with simulated_now(tomorrow):
        assert search("居住证").hits == []
        assert articles.display_status(articles.get_article(key)) == "expired"
    other = articles.create_article({**GUIDE, "title": "居住证签注"}, people["editor"]).key
    _publish(other, people)
    articles.withdraw_article(other, people["admin"], reason="政策调整")
    assert [h.article.key for h in search("居住证").hits] == [key]


def test_an_approved_guide_not_published_in_a_working_day_raises_one_alert(people):
    # Approved on Friday 2026-10-30: the deadline is the end of Monday 2 November.
    with simulated_now(datetime(2026, 10, 30, 10, 0, tzinfo=SHANGHAI)):
        key = articles.create_article(GUIDE, people["editor"]).key
        articles.submit_for_review(key, people["editor"])
        version = articles.review_version(key, people["admin"], approve=True, publish=False)
    due = version.publish_due_at.astimezone(SHANGHAI)
    assert due.date() == date(2026, 11, 2)
    assert articles.flag_late_publications(datetime(2026, 11, 2, 12, 0, tzinfo=SHANGHAI)) == 0
    late = datetime(2026, 11, 3, 9, 0, tzinfo=SHANGHAI)
    assert articles.flag_late_publications(late) == 1
    assert articles.flag_late_publications(late) == 0  # once per version
    alert = db.session.scalar(select(SystemAlert).where(SystemAlert.kind == "kb_publish_late"))
    assert alert.key == f"{key}:v1" and "居住证办理指南" in alert.message
    articles.publish_version(key, people["editor"])
    assert articles.late_publications(late) == []


def test_feedback_counts_and_an_unhelpful_answer_is_a_gap(people):
    from hotline.models import KnowledgeGap

    key = articles.create_article(GUIDE, people["editor"]).key
    _publish(key, people)
    articles.record_feedback(key, helpful=True, channel="portal")
    articles.record_feedback(key, helpful=False, channel="portal", query="居住证积分怎么算")
    article = articles.get_article(key)
    assert (article.helpful_count, article.unhelpful_count) == (1, 1)
    gap = db.session.scalar(select(KnowledgeGap))
    assert gap.reason == "unhelpful" and gap.query == "居住证积分怎么算"
    off_window = articles.create_article(
        {**GUIDE, "title": "只在热线", "channels": ["hotline"]}, people["editor"]
    ).key
    _publish(off_window, people)
    with pytest.raises(NotFound):  # not shown on the window: no feedback from there
        articles.record_feedback(off_window, helpful=True, channel="window")
    articles.record_feedback(off_window, helpful=True, channel="api")
