"""The knowledge base in the online hall (citizens, no sign-in) and at the window (clerks):
search, the article page, "helpful / not helpful" with CSRF and rate limits, and what
each channel may show."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline import create_app
from hotline.auth import add_user
from hotline.extensions import db
from hotline.models import Article, ArticleFeedback, KnowledgeGap
from hotline.models.base import simulated_now
from tests.conftest import base_config
from tests.web.test_kb_api import DRAFT, WITHDRAWN, publish_articles
from tests.web.test_portal import no_inline_code

SHANGHAI = ZoneInfo("Asia/Shanghai")
PASSWORD = "correct horse battery staple"
HTML = {"Accept": "text/html,application/xhtml+xml"}
HIDDEN = ("kb-0105", WITHDRAWN, DRAFT, "kb-0107")  # expired, withdrawn, draft, not yet


@pytest.fixture(autouse=True)
def _spring_day() -> Iterator[None]:
    with simulated_now(datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)):
        yield


@pytest.fixture
def articles(staff: Any) -> None:
    publish_articles()


@pytest.fixture
def clerk(client: Any, staff: Any) -> Any:
    """A window clerk (agent) signed in through the login form."""
    add_user("w_clerk", "agent", display_name="窗口小李", password=PASSWORD)
    response = client.post("/login", data={"username": "w_clerk", "password": PASSWORD})
    assert response.status_code == 302, response.text
    return client


def result_keys(html: str, area: str) -> list[str]:
    return re.findall(rf'href="/{area}/kb/(kb-\d+)\?q=', html)


def gaps() -> list[KnowledgeGap]:
    found = list(db.session.scalars(select(KnowledgeGap).order_by(KnowledgeGap.id)))
    db.session.rollback()
    return found


def counts(key: str) -> tuple[int, int]:
    article = db.session.scalar(select(Article).where(Article.key == key))
    result = (article.helpful_count, article.unhelpful_count)
    db.session.rollback()
    return result


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


# --- the online hall -------------------------------------------------------------------


def test_the_halls_home_page_has_a_search_box(client):
    page = client.get("/portal/")
    assert page.status_code == 200
    assert 'action="/portal/kb"' in page.text and 'type="search"' in page.text
    assert 'href="/portal/kb"' in page.text
    no_inline_code(page.text)


def test_the_search_page_starts_empty(client):
    page = client.get("/portal/kb")
    assert page.status_code == 200
    assert "搜索" in page.text and 'name="q"' in page.text
    assert 'id="kb-results"' not in page.text and 'id="kb-no-answer"' not in page.text
    assert gaps() == []


@pytest.mark.parametrize(
    ("question", "expected"),
    [("社保", "kb-0101"), ("挂失补卡", "kb-0102"), ("社保卡密码忘了", "kb-0103")],
)
def test_citizens_find_answers_by_short_and_long_questions(client, articles, question, expected):
    page = client.get("/portal/kb", query_string={"q": question})
    assert page.status_code == 200
    found = result_keys(page.text, "portal")
    assert expected in found, (question, found)
    if len(question) > 2:
        assert found[0] == expected
    assert "办事指南" in page.text or "热点问答" in page.text
    assert 'id="kb-no-answer"' not in page.text
    no_inline_code(page.text)
    assert gaps() == []


def test_the_hall_never_shows_hidden_or_non_portal_articles(client, articles):
    text = client.get("/portal/kb", query_string={"q": "养狗犬只登记"}).text
    assert "kb-0104" not in text
    for question in ("第二代社保卡换卡", "居住证签注", "社保卡激活", "新生儿医保参保"):
        found = result_keys(client.get("/portal/kb", query_string={"q": question}).text, "portal")
        assert not set(found) & set(HIDDEN), (question, found)


def test_no_answer_suggests_a_request_and_counts_the_gap(client, articles):
    page = client.get("/portal/kb", query_string={"q": "公园门票怎么预约"})
    assert page.status_code == 200
    assert 'id="kb-no-answer"' in page.text
    assert "公园门票怎么预约" in page.text
    assert 'href="/portal/submit"' in page.text and "我要反映" in page.text
    client.get("/portal/kb", query_string={"q": "公园门票怎么预约？"})
    [gap] = gaps()
    assert gap.count == 2 and gap.channels == ["portal"]


def test_the_question_is_escaped(client, articles):
    page = client.get("/portal/kb", query_string={"q": "<script>alert(1)</script>"})
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;" in page.text


def test_the_article_page_shows_the_whole_guide(client, articles):
    page = client.get("/portal/kb/kb-0101", query_string={"q": "社保"})
    assert page.status_code == 200
    text = page.text
    assert "社会保障卡首次申领指南" in text and "办事指南" in text
    assert "<strong>社会保障卡</strong>" in text  # Markdown rendered
    assert "<script>alert" not in text and 'href="javascript' not in text  # and sanitised
    materials = text[text.index('id="kb-materials"') :]
    assert materials.index("居民身份证") < materials.index("近期免冠彩色照片")
    assert 'type="checkbox"' in materials
    assert "江门市人力资源和社会保障局" in text and "江人社发〔2025〕12号" in text
    assert "2025-01-01" in text and "2027-12-31" in text
    assert "有帮助" in text and "没帮助" in text
    assert 'name="csrf_token"' in text
    assert re.search(r'name="q" value="社保"', text)
    assert 'href="/portal/kb?q=' in text  # back to the answers
    no_inline_code(text)


def test_a_qa_article_has_no_materials_list(client, articles):
    page = client.get("/portal/kb/kb-0103")
    assert page.status_code == 200 and 'id="kb-materials"' not in page.text


@pytest.mark.parametrize("key", ["kb-0104", *HIDDEN, "kb-9999"])
def test_articles_the_hall_may_not_show_are_a_friendly_404(client, articles, key):
    page = client.get(f"/portal/kb/{key}", headers=HTML)
    assert page.status_code == 404
    assert 'id="kb-missing"' in page.text and "网上办事大厅" in page.text
    assert 'href="/portal/kb"' in page.text
    assert client.post(f"/portal/kb/{key}/feedback", data={"helpful": "yes"}).status_code == 404


def test_feedback_is_counted_and_an_unhelpful_answer_is_a_gap(client, articles):
    response = client.post("/portal/kb/kb-0102/feedback", data={"helpful": "yes", "q": "补卡"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/portal/kb/kb-0102?")
    thanks = client.get(response.headers["Location"]).text
    assert 'id="kb-thanks"' in thanks and 'id="kb-feedback"' not in thanks
    response = client.post(
        "/portal/kb/kb-0102/feedback", data={"helpful": "no", "q": "社保卡在外地丢了"}
    )
    assert response.status_code == 302
    after = client.get(response.headers["Location"]).text
    assert 'href="/portal/submit"' in after  # offered to make a request instead
    assert counts("kb-0102") == (1, 1)
    rows = db.session.scalars(select(ArticleFeedback).order_by(ArticleFeedback.id)).all()
    assert [(r.helpful, r.channel, r.query) for r in rows] == [
        (True, "portal", "补卡"),
        (False, "portal", "社保卡在外地丢了"),
    ]
    [gap] = gaps()
    assert gap.reason == "unhelpful" and gap.channels == ["portal"]


def test_feedback_without_a_choice_is_refused(client, articles):
    for data in ({}, {"helpful": "maybe"}):
        page = client.post("/portal/kb/kb-0102/feedback", data=data)
        assert page.status_code == 400 and "网上办事大厅" in page.text
    assert counts("kb-0102") == (0, 0)


def test_feedback_needs_the_pages_csrf_token(app, client, articles):
    app.config["WTF_CSRF_ENABLED"] = True
    refused = client.post("/portal/kb/kb-0101/feedback", data={"helpful": "yes"})
    assert refused.status_code == 400 and "表单已失效" in refused.text
    forged = client.post(
        "/portal/kb/kb-0101/feedback", data={"helpful": "yes", "csrf_token": "forged"}
    )
    assert forged.status_code == 400
    assert counts("kb-0101") == (0, 0)
    token = csrf_token(client.get("/portal/kb/kb-0101").text)
    accepted = client.post(
        "/portal/kb/kb-0101/feedback", data={"helpful": "yes", "csrf_token": token}
    )
    assert accepted.status_code == 302
    assert counts("kb-0101") == (1, 0)


def test_feedback_is_rate_limited_but_reading_is_not(app, _tmp_dir, articles):
    limited = create_app(
        {
            **base_config(_tmp_dir),
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            "PUBLIC_RATE_LIMIT": "2 per minute",
        }
    )
    client = limited.test_client()
    try:
        path = "/portal/kb/kb-0101/feedback"
        codes = [client.post(path, data={"helpful": "yes"}).status_code for _ in range(3)]
        assert codes == [302, 302, 429], codes
        assert "请求过于频繁" in client.post(path, data={"helpful": "no"}).text
        for _ in range(3):
            assert client.get("/portal/kb/kb-0101").status_code == 200
            assert client.get("/portal/kb?q=社保").status_code == 200
    finally:
        with limited.app_context():
            db.session.remove()
            db.engine.dispose()
    assert counts("kb-0101") == (2, 0)


def test_the_hall_speaks_english_too(client, articles):
    page = client.get("/portal/kb/kb-0101?lang=en")
    assert "Service guide" in page.text and "Required materials" in page.text
    assert "Yes, it helped" in page.text and "No, it did not help" in page.text


# --- the window ----------------------------------------------------------------------


def test_the_window_knowledge_base_is_for_signed_in_clerks(client, staff, articles):
    for path in ("/window/kb", "/window/kb?q=社保", "/window/kb/kb-0101"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    add_user("w_handler", "handler", department_code="PJQ", password=PASSWORD)
    client.post("/login", data={"username": "w_handler", "password": PASSWORD})
    assert client.get("/window/kb", headers=HTML).status_code == 403
    assert client.get("/window/kb/kb-0101", headers=HTML).status_code == 403


@pytest.mark.parametrize(
    ("question", "expected"),
    [("社保", "kb-0101"), ("犬只登记", "kb-0104"), ("挂失补卡", "kb-0102")],
)
def test_clerks_find_window_answers(clerk, articles, question, expected):
    page = clerk.get("/window/kb", query_string={"q": question})
    assert page.status_code == 200
    found = result_keys(page.text, "window")
    assert expected in found, (question, found)
    if len(question) > 2:
        assert found[0] == expected
    assert not set(found) & set(HIDDEN)
    no_inline_code(page.text)


def test_an_unanswered_window_question_is_a_window_gap(clerk, articles):
    page = clerk.get("/window/kb", query_string={"q": "公园门票怎么预约"})
    assert page.status_code == 200 and 'id="kb-no-answer"' in page.text
    assert 'href="/window/"' in page.text  # take it as a request
    [gap] = gaps()
    assert gap.channels == ["window"] and gap.count == 1


def test_the_window_article_prints_the_materials_for_the_citizen(clerk, articles):
    page = clerk.get("/window/kb/kb-0101", query_string={"q": "社保"})
    assert page.status_code == 200
    text = page.text
    assert 'id="print-receipt"' in text and "js/receipt.js" in text and "css/portal.css" in text
    assert 'class="screen-only actions"' in text
    assert "☐ 居民身份证" in text and "☐ 近期免冠彩色照片" in text
    assert "<strong>社会保障卡</strong>" in text and "<script>alert" not in text
    assert "江人社发〔2025〕12号" in text and "2027-12-31" in text
    assert "江门市 12345 政务服务便民热线" in text
    no_inline_code(text)


def test_the_window_shows_window_articles_and_hides_the_rest(clerk, articles):
    assert clerk.get("/window/kb/kb-0104").status_code == 200  # hotline and window only
    for key in HIDDEN:
        page = clerk.get(f"/window/kb/{key}", headers=HTML)
        assert page.status_code == 404 and 'href="/window/kb"' in page.text


def test_window_feedback_counts_on_the_window_channel(clerk, articles):
    response = clerk.post("/window/kb/kb-0104/feedback", data={"helpful": "no", "q": "狗咬人"})
    assert response.status_code == 302
    assert 'id="kb-thanks"' in clerk.get(response.headers["Location"]).text
    assert counts("kb-0104") == (0, 1)
    feedback = db.session.scalar(select(ArticleFeedback))
    assert (feedback.channel, feedback.query) == ("window", "狗咬人")
