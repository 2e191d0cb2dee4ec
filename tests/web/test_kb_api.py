"""The knowledge base over the JSON API: search (shape, order, channels, gaps, refusals),
reading an article (only what is published and in force; other versions for editors)
and citizens' or clerks' feedback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline.extensions import db
from hotline.models import ArticleFeedback, KnowledgeGap, User
from hotline.models.base import simulated_now
from knowledge_base.articles import (
    clean_content,
    create_article,
    import_content,
    withdraw_article,
)
from tests.api_helpers import ok, refused

SHANGHAI = ZoneInfo("Asia/Shanghai")

ARTICLES: dict[str, dict[str, Any]] = {
    "kb-0101": {
        "kind": "guide",
        "title": "社会保障卡首次申领指南",
        "category": "0301",
        "department": "RSJ",
        "answer": "首次申领**社会保障卡**不收费。可以通过“粤省事”线上申请，也可以携带身份证到"
        "合作银行网点申请，具备即时制卡条件的网点可以当场领卡。\n\n"
        "<script>alert('x')</script>\n\n"
        "[进度查询](javascript:alert(1)) 或 [人社局网站](https://hrss.jiangmen.gov.cn/)",
        "keywords": ["社保卡", "申领", "办卡", "即时制卡"],
        "materials": ["居民身份证", "近期免冠彩色照片"],
        "issuing_unit": "江门市人力资源和社会保障局",
        "document_number": "江人社发〔2025〕12号",
        "effective_from": "2025-01-01",
        "effective_to": "2027-12-31",
    },
    "kb-0102": {
        "kind": "guide",
        "title": "社会保障卡丢失挂失和补办指南",
        "category": "0301",
        "department": "RSJ",
        "answer": "社保卡丢失后请尽快挂失。可以通过“粤省事”或拨打12333办理临时挂失，再联系发卡"
        "银行挂失金融账户。补卡可以到合作银行网点现场办理，补卡后原卡作废。",
        "keywords": ["社保卡丢了", "挂失", "补卡", "补办社保卡"],
        "materials": ["居民身份证"],
        "effective_from": "2025-01-01",
    },
    "kb-0103": {
        "kind": "qa",
        "title": "社保卡密码忘了怎么办？",
        "category": "0301",
        "department": "RSJ",
        "answer": "社保服务密码忘记或被锁定的，可以本人携带身份证和社保卡到合作银行网点重置。",
        "keywords": ["社保卡密码", "忘记密码", "重置密码"],
        "effective_from": "2025-01-01",
    },
    "kb-0104": {
        "kind": "qa",
        "title": "在江门养狗需要办理犬只登记吗？",
        "category": "0705",
        "department": "GAJ",
        "answer": "需要。犬主应当为犬只接种狂犬病疫苗，并到居住地派出所办理犬只登记，领取犬牌。",
        "keywords": ["养狗", "狗证", "犬只登记", "犬牌"],
        "effective_from": "2025-01-01",
        "channels": ["hotline", "window"],  # not in the online hall
    },
    "kb-0105": {
        "kind": "notice",
        "title": "2025年第二代社保卡换卡通知",
        "department": "RSJ",
        "answer": "第二代社保卡换领第三代社保卡的集中换卡活动已于2025年底结束。",
        "keywords": ["换卡", "第二代社保卡"],
        "effective_from": "2025-01-01",
        "effective_to": "2025-12-31",  # expired before "today" (2026-03-10)
    },
    "kb-0106": {
        "kind": "qa",
        "title": "居住证签注在哪里办？",
        "category": "0702",
        "department": "GAJ",
        "answer": "居住证签注可以到居住地派出所或通过“粤省事”线上办理。",
        "keywords": ["居住证", "签注"],
        "effective_from": "2025-01-01",
    },
    "kb-0107": {
        "kind": "qa",
        "title": "新生儿医保参保怎么办理？",
        "department": "YBJ",
        "answer": "新生儿出生后可以在“粤省事”为其办理城乡居民医保参保登记。",
        "keywords": ["新生儿", "医保", "参保"],
        "effective_from": "2026-06-01",  # not yet in force
    },
}
WITHDRAWN = "kb-0106"
DRAFT = "kb-0199"


@pytest.fixture(autouse=True)
def _spring_day() -> Iterator[None]:
    with simulated_now(datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)):
        yield


def editor_user() -> User:
    return db.session.scalar(select(User).where(User.username == "editor"))


def publish(key: str, data: dict[str, Any]) -> None:
    content, problems = clean_content(data)
    assert not problems, problems
    import_content(key, content, None, source="test")
    db.session.commit()


@pytest.fixture
def articles(staff: Any) -> dict[str, dict[str, Any]]:
    publish_articles()
    return ARTICLES


def publish_articles() -> None:
    """Published articles of every sort, one withdrawn, and one draft never published
    (needs the catalogue and the `editor` user of the `staff` fixture)."""
    for key, data in ARTICLES.items():
        publish(key, data)
    withdraw_article(WITHDRAWN, editor_user(), reason="规定已调整")
    create_article(
        {
            "kind": "qa",
            "title": "社保卡激活办法（草稿）",
            "answer": "草稿：社保卡激活办法。",
            "keywords": ["社保卡", "激活"],
        },
        editor_user(),
        key=DRAFT,
    )


def search(staff: Any, query: str, who: str = "agent", **params: Any) -> Any:
    return staff.client.get(
        "/api/v1/kb/search", query_string={"q": query, **params}, headers=staff.headers(who)
    )


def ids(response: Any) -> list[str]:
    return [hit["id"] for hit in ok(response)["results"]]


def gaps() -> list[KnowledgeGap]:
    found = list(db.session.scalars(select(KnowledgeGap).order_by(KnowledgeGap.id)))
    db.session.rollback()
    return found


# --- search --------------------------------------------------------------------------


def test_search_answers_in_the_designed_shape(staff, articles):
    body = ok(search(staff, "社保卡怎么申领", gap=0))
    assert body["useful"] is True
    first = body["results"][0]
    assert {"id", "title", "kind", "score", "snippet"} <= set(first)
    assert first["id"] == "kb-0101"
    assert first["title"] == "社会保障卡首次申领指南"
    assert first["kind"] == "guide" and first["kind_label"] == "办事指南"
    assert 0 < first["score"] <= 1
    assert "社会保障卡" in first["snippet"] and "**" not in first["snippet"]


def test_search_puts_the_best_answer_first(staff, articles):
    response = search(staff, "社保卡丢了怎么补办")
    found = ids(response)
    assert found[0] == "kb-0102", response.json
    scores = [hit["score"] for hit in response.json["results"]]
    assert scores == sorted(scores, reverse=True)
    assert ids(search(staff, "社保卡密码忘记了"))[0] == "kb-0103"


def test_search_respects_the_limit(staff, articles):
    assert len(ids(search(staff, "社保卡", limit=1))) == 1
    assert len(ids(search(staff, "社保卡", limit=50))) >= 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "社" * 501}, "q"),
        ({"q": "社保卡", "limit": "0"}, "limit"),
        ({"q": "社保卡", "limit": "51"}, "limit"),
        ({"q": "社保卡", "limit": "ten"}, "limit"),
        ({"q": "社保卡", "channel": "fax"}, "channel"),
    ],
)
def test_bad_search_parameters_are_refused_in_both_languages(staff, articles, params, field):
    response = staff.client.get(
        "/api/v1/kb/search", query_string=params, headers=staff.headers("agent")
    )
    error = refused(response, 422, "invalid_input")
    assert error["details"]["field"] == field


def test_a_missing_question_is_refused(staff):
    error = refused(staff.get("agent", "/kb/search"), 422, "invalid_input")
    assert "q" in error["message"] and "问题" in error["message_zh"]


def test_the_knowledge_base_needs_a_signed_in_caller(client, articles):
    for path in ("/api/v1/kb/search?q=社保卡", "/api/v1/kb/articles/kb-0101"):
        refused(client.get(path), 401, "not_authenticated")
    refused(client.post("/api/v1/kb/articles/kb-0101/feedback", json={"helpful": True}), 401)


@pytest.mark.parametrize("who", ["agent", "dispatcher", "supervisor", "admin", "editor", "rsj"])
def test_every_staff_role_may_search_and_read(staff, articles, who):
    assert ids(search(staff, "社保卡申领", who=who, gap=0))[0] == "kb-0101"
    assert ok(staff.get(who, "/kb/articles/kb-0101"))["id"] == "kb-0101"


def test_channels_filter_what_is_found(staff, articles):
    assert "kb-0104" in ids(search(staff, "养狗登记"))
    assert "kb-0104" in ids(search(staff, "养狗登记", channel="hotline"))
    assert "kb-0104" in ids(search(staff, "养狗登记", channel="phone"))  # an alias of hotline
    assert "kb-0104" in ids(search(staff, "养狗登记", channel="window"))
    assert "kb-0104" not in ids(search(staff, "养狗登记", channel="portal", gap=0))
    assert "kb-0104" not in ids(search(staff, "养狗登记", channel="web", gap=0))


def test_expired_withdrawn_draft_and_future_articles_are_never_found(staff, articles):
    for question, hidden in (
        ("第二代社保卡换卡", "kb-0105"),
        ("居住证签注", WITHDRAWN),
        ("社保卡激活", DRAFT),
        ("新生儿医保参保", "kb-0107"),
    ):
        assert hidden not in ids(search(staff, question, gap=0)), question
        refused(staff.get("agent", f"/kb/articles/{hidden}"), 404, "not_found")


def test_a_question_without_answer_is_one_gap_counted_each_time(staff, articles):
    for question in ("公园门票怎么预约", "公园门票 怎么预约？", "公园门票怎么预约"):
        body = ok(search(staff, question, channel="web"))
        assert body["results"] == [] and body["useful"] is False
    ok(search(staff, "公园门票怎么预约", channel="window"))
    [gap] = gaps()
    assert gap.count == 4
    assert gap.query == "公园门票怎么预约"
    assert gap.channels == ["portal", "window"]
    assert gap.reason == "no_result"


def test_gap_0_searches_without_counting_and_answers_are_no_gap(staff, articles):
    ok(search(staff, "公园门票怎么预约", gap=0))
    ok(search(staff, "社保卡申领"))
    assert gaps() == []
    ok(search(staff, "公园门票怎么预约"))
    assert [gap.channels for gap in gaps()] == [["api"]]


# --- one article ---------------------------------------------------------------------


def test_an_article_has_every_field(staff, articles):
    body = ok(staff.get("agent", "/kb/articles/kb-0101"))
    assert body["id"] == "kb-0101"
    assert body["title"] == "社会保障卡首次申领指南"
    assert body["kind"] == "guide" and body["kind_label"] == "办事指南"
    assert body["category"] == "0301" and body["department"] == "RSJ"
    assert body["answer"].startswith("首次申领**社会保障卡**不收费")
    assert "<strong>社会保障卡</strong>" in body["answer_html"]
    assert body["keywords"] == ["社保卡", "申领", "办卡", "即时制卡"]
    assert body["materials"] == ["居民身份证", "近期免冠彩色照片"]
    assert body["issuing_unit"] == "江门市人力资源和社会保障局"
    assert body["document_number"] == "江人社发〔2025〕12号"
    assert body["effective_from"] == "2025-01-01" and body["effective_to"] == "2027-12-31"
    assert body["channels"] == ["hotline", "portal", "window"]
    assert body["version"] == 1
    assert (
        body["published_at"].startswith("2026-03-10T10:00:00") and "+08:00" in body["published_at"]
    )


def test_article_html_is_sanitised(staff, articles):
    html = ok(staff.get("agent", "/kb/articles/kb-0101"))["answer_html"]
    assert "<script" not in html and "&lt;script&gt;" in html  # shown as text, never run
    assert 'href="javascript' not in html
    assert 'href="https://hrss.jiangmen.gov.cn/"' in html and "noopener" in html


def test_unknown_articles_are_404(staff, articles):
    refused(staff.get("agent", "/kb/articles/kb-9999"), 404, "not_found")
    refused(staff.post("agent", "/kb/articles/kb-9999/feedback", {"helpful": True}), 404)


def test_an_article_can_be_read_for_one_channel(staff, articles):
    ok(staff.get("agent", "/kb/articles/kb-0104?channel=hotline"))
    refused(staff.get("agent", "/kb/articles/kb-0104?channel=portal"), 404)
    refused(staff.get("agent", "/kb/articles/kb-0104?channel=fax"), 422)


def test_editors_may_read_any_version_others_may_not(staff, articles):
    draft = ok(staff.get("editor", f"/kb/articles/{DRAFT}?version=1"))
    assert draft["state"] == "draft" and draft["title"] == "社保卡激活办法（草稿）"
    assert draft["published_at"] is None
    withdrawn = ok(staff.get("admin", f"/kb/articles/{WITHDRAWN}?version=1"))
    assert withdrawn["state"] == "withdrawn"
    for who in ("agent", "supervisor", "rsj"):
        refused(staff.get(who, f"/kb/articles/{DRAFT}?version=1"), 403, "forbidden")
    refused(staff.get("editor", f"/kb/articles/{DRAFT}?version=7"), 404)
    refused(staff.get("editor", f"/kb/articles/{DRAFT}?version=first"), 422)


# --- feedback ------------------------------------------------------------------------


def test_feedback_is_counted(staff, articles):
    first = staff.post("agent", "/kb/articles/kb-0102/feedback", {"helpful": True})
    assert first.status_code == 201, first.json
    assert first.json["helpful_count"] == 1 and first.json["unhelpful_count"] == 0
    body = staff.post(
        "agent",
        "/kb/articles/kb-0102/feedback",
        {
            "helpful": False,
            "query": "社保卡在外地丢了",
            "comment": "没说外地怎么办",
            "channel": "phone",
        },
    ).json
    assert body["helpful_count"] == 1 and body["unhelpful_count"] == 1
    rows = list(db.session.scalars(select(ArticleFeedback).order_by(ArticleFeedback.id)))
    assert [(r.helpful, r.channel, r.version_number) for r in rows] == [
        (True, "api", 1),
        (False, "hotline", 1),
    ]
    assert rows[1].query == "社保卡在外地丢了" and rows[1].comment == "没说外地怎么办"
    [gap] = gaps()  # an unhelpful answer to a question is a gap too
    assert gap.reason == "unhelpful" and gap.query == "社保卡在外地丢了"


def test_bad_feedback_is_refused(staff, articles):
    for body in ({}, {"helpful": "perhaps"}, {"helpful": True, "stars": 5}):
        refused(staff.post("agent", "/kb/articles/kb-0102/feedback", body), 422)
    refused(
        staff.post("agent", "/kb/articles/kb-0102/feedback", {"helpful": True, "channel": "fax"}),
        422,
    )
    for hidden in ("kb-0105", WITHDRAWN, DRAFT):
        refused(staff.post("agent", f"/kb/articles/{hidden}/feedback", {"helpful": True}), 404)
    not_on_portal = {"helpful": True, "channel": "web"}
    refused(staff.post("agent", "/kb/articles/kb-0104/feedback", not_on_portal), 404)
    assert db.session.scalars(select(ArticleFeedback)).all() == []


# --- the document --------------------------------------------------------------------


def test_openapi_documents_the_knowledge_base(client):
    doc = client.get("/api/v1/openapi.json").json
    paths = doc["paths"]
    assert {"/kb/search", "/kb/articles/{key}", "/kb/articles/{key}/feedback"} <= set(paths)
    schemas = doc["components"]["schemas"]
    result = schemas["KbSearchResults"]["properties"]["results"]["items"]
    assert set(result["required"]) == {"id", "title", "kind", "score", "snippet"}
    assert schemas["KbFeedback"]["required"] == ["helpful"]
    assert "answer_html" in schemas["KbArticle"]["required"]
