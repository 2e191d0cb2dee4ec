"""The knowledge editors' pages (/admin/kb): who may use them, the review workflow through
the pages, refusals shown as pages, gaps, synonyms and sanitised Markdown."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient

from hotline.auth import add_user
from hotline.extensions import db
from hotline.models import Article, KnowledgeGap
from hotline.models.base import simulated_now
from knowledge_base.search import record_knowledge_gap, search
from tests.conftest import Client

PASSWORD = "correct horse battery staple"
HTML = {"Accept": "text/html,application/xhtml+xml"}
PAGES = ["/admin/kb", "/admin/kb/new", "/admin/kb/gaps", "/admin/kb/synonyms"]


class PageClient(Client):
    """Also forget the locale Flask-Babel cached in `g` by the previous request."""

    def open(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def,override]
        g.pop("_flask_babel", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def people(app: Flask, catalogue: Any) -> Flask:
    app.test_client_class = PageClient
    for name, role, department in [
        ("ed", "editor", None),
        ("ed2", "editor", None),
        ("boss", "admin", None),
        ("agent1", "agent", None),
        ("disp1", "dispatcher", None),
        ("super1", "supervisor", None),
        ("pjq1", "handler", "PJQ"),
    ]:
        add_user(name, role, department_code=department, password=PASSWORD)
    return app


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    g.pop("_login_user", None)
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.text
    return client


def article_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "kind": "guide",
        "title": "犬只登记办理指南",
        "category": "0101",
        "department": "PJQ",
        "answer": "携带身份证到**辖区派出所**办理犬只登记，当场发放犬牌。",
        "keywords": "养犬登记\n狗证",
        "materials": "居民身份证\n犬只免疫证明",
        "issuing_unit": "江门市公安局",
        "document_number": "江公通〔2024〕8号",
        "effective_from": "2024-01-01",
        "effective_to": "",
        "channels": ["hotline", "portal", "window"],
        "change_note": "首次编写",
    }
    data.update(overrides)
    return data


def create(client: FlaskClient, **overrides: Any) -> str:
    response = client.post("/admin/kb/new", data=article_form(**overrides))
    assert response.status_code == 302, response.text
    key = response.headers["Location"].rsplit("/", 1)[-1]
    assert key.startswith("kb-")
    return key


def publish(author: FlaskClient, reviewer: FlaskClient, key: str) -> None:
    assert author.post(f"/admin/kb/{key}/submit").status_code == 302
    response = reviewer.post(f"/admin/kb/{key}/review", data={"decision": "publish"})
    assert response.status_code == 302, response.text


def keys_found(question: str) -> list[str]:
    return [hit.article.key for hit in search(question).hits]


# --- who may use the pages -----------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(people: Flask, path: str) -> None:
    response = people.test_client().get(path, headers=HTML)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("username", ["agent1", "disp1", "super1", "pjq1"])
def test_other_roles_are_refused(people: Flask, username: str) -> None:
    client = signed_in(people, username)
    for path in PAGES:
        response = client.get(path, headers=HTML)
        assert response.status_code == 403, path
        assert "没有权限" in response.text
    assert client.post("/admin/kb/new", data=article_form()).status_code == 403
    assert db.session.query(Article).count() == 0


@pytest.mark.parametrize("username", ["ed", "boss"])
def test_editors_and_admins_get_every_page(people: Flask, username: str) -> None:
    client = signed_in(people, username)
    for path in PAGES:
        response = client.get(path, headers=HTML)
        assert response.status_code == 200, path
        assert "知识缺口" in response.text and "同义词" in response.text  # the Chinese nav


# --- the workflow, through the pages ---------------------------------------------------


def test_the_whole_review_workflow(people: Flask) -> None:
    ed, boss = signed_in(people, "ed"), signed_in(people, "boss")
    key = create(ed)
    page = ed.get(f"/admin/kb/{key}")
    assert page.status_code == 200
    assert "草稿" in page.text and "提交第 1 版审核" in page.text
    assert keys_found("犬只登记") == []  # a draft answers nobody

    publish(ed, boss, key)
    page = ed.get(f"/admin/kb/{key}")
    assert "已发布" in page.text and "<strong>辖区派出所</strong>" in page.text
    assert "居民身份证" in page.text and "江公通〔2024〕8号" in page.text
    assert keys_found("犬只登记") == [key]

    # A change is a new draft; the live version keeps answering meanwhile.
    response = ed.post(
        f"/admin/kb/{key}/edit",
        data=article_form(
            answer="携带身份证到**区行政服务中心**办理犬只登记。", change_note="地点变更"
        ),
    )
    assert response.status_code == 302
    page = ed.get(f"/admin/kb/{key}")
    assert "区行政服务中心" in page.text  # the draft, shown below the live version
    hit = search("犬只登记").hits[0]
    assert hit.version.number == 1 and "辖区派出所" in hit.version.body
    listing = ed.get("/admin/kb", headers=HTML)
    assert key in listing.text and "1 / 2" in listing.text and "(草稿)" in listing.text

    publish(ed, boss, key)
    hit = search("犬只登记").hits[0]
    assert hit.version.number == 2 and "区行政服务中心" in hit.version.body
    history = ed.get(f"/admin/kb/{key}").text
    assert "已被替代" in history and "地点变更" in history

    compare = ed.get(f"/admin/kb/{key}/compare?a=1&b=2")
    assert compare.status_code == 200
    assert "<del>派出所</del>" in compare.text
    assert "<ins>行政服务中心</ins>" in compare.text
    assert "首次编写" not in compare.text  # the change note is not content


def test_the_author_cannot_approve_their_own_version(people: Flask) -> None:
    ed = signed_in(people, "ed")
    key = create(ed)
    assert ed.post(f"/admin/kb/{key}/submit").status_code == 302
    assert "另一位编辑" in ed.get(f"/admin/kb/{key}").text  # warned before trying
    response = ed.post(f"/admin/kb/{key}/review", data={"decision": "publish"}, headers=HTML)
    assert response.status_code == 403
    assert "不能审核自己编写的版本" in response.text
    assert db.session.query(Article).filter_by(key=key).one().status == "draft"

    # Another editor may, and "approve only" leaves publication for later.
    ed2 = signed_in(people, "ed2")
    response = ed2.post(f"/admin/kb/{key}/review", data={"decision": "approve"})
    assert response.status_code == 302
    page = ed2.get(f"/admin/kb/{key}").text
    assert "已审核待发布" in page and "发布第 1 版" in page
    assert keys_found("犬只登记") == []
    assert ed2.post(f"/admin/kb/{key}/publish").status_code == 302
    assert keys_found("犬只登记") == [key]


def test_sending_back_needs_a_note(people: Flask) -> None:
    ed, ed2 = signed_in(people, "ed"), signed_in(people, "ed2")
    key = create(ed)
    ed.post(f"/admin/kb/{key}/submit")
    response = ed2.post(f"/admin/kb/{key}/review", data={"decision": "reject", "note": " "})
    assert response.status_code == 422 and "退回须填写理由" in response.text
    response = ed2.post(
        f"/admin/kb/{key}/review", data={"decision": "reject", "note": "请补充办理时限"}
    )
    assert response.status_code == 302
    page = ed.get(f"/admin/kb/{key}").text
    assert "已退回" in page and "请补充办理时限" in page
    assert "提交第 1 版审核" in page  # the author may resubmit


def test_withdrawing_hides_the_article_and_needs_a_reason(people: Flask) -> None:
    ed, boss = signed_in(people, "ed"), signed_in(people, "boss")
    key = create(ed)
    publish(ed, boss, key)
    assert keys_found("犬只登记") == [key]
    response = ed.post(f"/admin/kb/{key}/withdraw", data={"reason": ""})
    assert response.status_code == 422 and "撤回须填写理由" in response.text
    assert keys_found("犬只登记") == [key]
    response = ed.post(f"/admin/kb/{key}/withdraw", data={"reason": "政策已废止"})
    assert response.status_code == 302
    assert keys_found("犬只登记") == []
    assert "已撤回" in ed.get(f"/admin/kb/{key}").text
    listing = ed.get("/admin/kb?status=withdrawn").text
    assert key in listing
    assert key not in ed.get("/admin/kb?status=published").text
    # Withdrawing twice is a state conflict, shown as a page, not a 500.
    again = ed.post(f"/admin/kb/{key}/withdraw", data={"reason": "再次撤回"})
    assert again.status_code == 409 and "只有已发布的文章可以撤回" in again.text


def test_editing_a_version_in_review_is_a_conflict(people: Flask) -> None:
    ed = signed_in(people, "ed")
    key = create(ed)
    ed.post(f"/admin/kb/{key}/submit")
    response = ed.post(f"/admin/kb/{key}/edit", data=article_form(title="新标题"))
    assert response.status_code == 409 and "请先完成审核" in response.text
    assert ed.post(f"/admin/kb/{key}/submit").status_code == 409  # already in review


def test_validation_problems_are_shown_next_to_the_fields(people: Flask) -> None:
    ed = signed_in(people, "ed")
    response = ed.post(
        "/admin/kb/new",
        data=article_form(
            title="",
            kind="qa",
            category="9999",
            effective_from="2024-13-40",
            channels=[],
            answer="保留我写的正文",
        ),
    )
    assert response.status_code == 422
    text = response.text
    for message in (
        "标题不能为空",
        "诉求分类 9999 不存在",
        "生效日期格式应为",
        "至少选择一个发布渠道",
    ):
        assert message in text
    assert "仅办事指南可填写所需材料" in text  # materials on a Q&A
    assert 'id="title-errors"' in text and 'aria-invalid="true"' in text
    assert "保留我写的正文" in text and "江公通〔2024〕8号" in text  # the form is re-filled
    assert db.session.query(Article).count() == 0

    key = create(ed)
    response = ed.post(f"/admin/kb/{key}/edit", data=article_form(answer=""))
    assert response.status_code == 422 and "正文（答复口径）不能为空" in response.text


def test_the_edit_form_starts_from_the_newest_version(people: Flask) -> None:
    ed = signed_in(people, "ed")
    key = create(ed, channels=["hotline", "window"], effective_to="2030-12-31")
    form = ed.get(f"/admin/kb/{key}/edit").text
    assert "犬只登记办理指南" in form and "居民身份证\n犬只免疫证明" in form
    assert 'value="2030-12-31"' in form
    checked = re.findall(
        r'<input checked id="channels-\d" name="channels" [^>]*value="(\w+)"', form
    )
    assert checked == ["hotline", "window"]


def test_similar_questions_are_edited_one_per_line_and_searched(people: Flask) -> None:
    ed, boss = signed_in(people, "ed"), signed_in(people, "boss")
    key = create(ed, questions="养条狗要不要上户口，去哪办\n狗牌去边度领")
    page = ed.get(f"/admin/kb/{key}").text
    assert "养条狗要不要上户口，去哪办" in page and "狗牌去边度领" in page
    assert "养条狗要不要上户口，去哪办\n狗牌去边度领" in ed.get(f"/admin/kb/{key}/edit").text
    publish(ed, boss, key)
    assert keys_found("狗牌在哪里领")[:1] == [key]


def test_markdown_is_rendered_without_scripts(people: Flask) -> None:
    ed, boss = signed_in(people, "ed"), signed_in(people, "boss")
    key = create(
        ed,
        answer='<script>alert("x")</script>\n\n[点我](javascript:alert(1)) **加粗**',
        materials="",
        kind="qa",
    )
    publish(ed, boss, key)
    page = ed.get(f"/admin/kb/{key}").text
    assert "<script>alert" not in page
    assert 'href="javascript:' not in page
    assert "<strong>加粗</strong>" in page


def test_the_list_filters_stay_in_the_url(people: Flask) -> None:
    ed, boss = signed_in(people, "ed"), signed_in(people, "boss")
    old = create(ed, title="旧政策", kind="policy", materials="", effective_to="2024-06-30")
    live = create(ed, title="社保卡补办", kind="qa", materials="", keywords="社保卡")
    draft = create(ed, title="草稿文章", kind="notice", materials="")
    publish(ed, boss, old)
    publish(ed, boss, live)

    def listed(query: str) -> set[str]:
        text = ed.get("/admin/kb" + query).text
        return {k for k in (old, live, draft) if f">{k}</a>" in text}

    assert listed("") == {old, live, draft}
    assert listed("?status=expired") == {old}
    assert "已过期" in ed.get("/admin/kb?status=expired").text
    assert listed("?status=published") == {live}
    assert listed("?status=draft") == {draft}
    assert listed("?kind=notice") == {draft}
    assert listed("?q=社保") == {live}
    assert listed(f"?q={live.upper()}") == {live}
    assert listed("?category=0101") == {old, live, draft}
    assert listed("?category=0102") == set()
    page = ed.get("/admin/kb?status=expired&kind=policy").text
    assert 'value="expired" selected' in page and 'value="policy" selected' in page


def test_late_guides_are_listed_on_top(people: Flask) -> None:
    ed, boss = signed_in(people, "ed"), signed_in(people, "boss")
    key = create(ed)
    ed.post(f"/admin/kb/{key}/submit")
    assert boss.post(f"/admin/kb/{key}/review", data={"decision": "approve"}).status_code == 302
    assert "未按时发布" not in ed.get("/admin/kb").text
    with simulated_now(datetime.now(UTC) + timedelta(days=10)):
        listing = ed.get("/admin/kb").text
        assert "未按时发布" in listing and key in listing
        assert "逾期" in ed.get(f"/admin/kb/{key}").text


def test_comparing_unknown_versions_is_not_found(people: Flask) -> None:
    ed = signed_in(people, "ed")
    key = create(ed)
    response = ed.get(f"/admin/kb/{key}/compare?a=1&b=7", headers=HTML)
    assert response.status_code == 404 and "没有第 7 版" in response.text
    assert ed.get(f"/admin/kb/{key}/compare?a=x", headers=HTML).status_code == 422
    assert ed.get("/admin/kb/kb-9999", headers=HTML).status_code == 404
    missing = ed.post("/admin/kb/kb-9999/withdraw", data={"reason": ""}, headers=HTML)
    assert missing.status_code in (404, 422) and "服务器内部错误" not in missing.text
    assert ed.post("/admin/kb/kb-9999/submit", headers=HTML).status_code == 404
    api = ed.get("/admin/kb/kb-9999", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.json["error"]["code"] == "not_found"


# --- synonyms and gaps ---------------------------------------------------------------


def test_synonyms_are_saved_and_used_by_search(people: Flask) -> None:
    ed, boss = signed_in(people, "ed"), signed_in(people, "boss")
    key = create(ed)
    publish(ed, boss, key)
    assert keys_found("毛孩子") == []
    response = ed.post(
        "/admin/kb/synonyms", data={"groups": "犬只 毛孩子\n\n社保卡、医保卡，社会保障卡"}
    )
    assert response.status_code == 302
    page = ed.get("/admin/kb/synonyms").text
    assert "犬只 毛孩子\n社保卡 医保卡 社会保障卡" in page
    assert keys_found("毛孩子") == [key]


def test_gaps_are_listed_and_resolved(people: Flask) -> None:
    ed = signed_in(people, "ed")
    record_knowledge_gap("怎么给鹦鹉办证", "hotline")
    record_knowledge_gap("怎么给鹦鹉办证？", "portal")
    record_knowledge_gap("火星移民政策", "hotline")
    page = ed.get("/admin/kb/gaps").text
    assert "怎么给鹦鹉办证" in page and "火星移民政策" in page
    assert page.index("怎么给鹦鹉办证") < page.index("火星移民政策")  # most asked first
    assert "热线电话、网上办事大厅" in page
    gap = db.session.query(KnowledgeGap).filter_by(query="怎么给鹦鹉办证").one()
    response = ed.post(f"/admin/kb/gaps/{gap.id}/resolve")
    assert response.status_code == 302
    page = ed.get("/admin/kb/gaps").text
    assert "已标记为已处理：怎么给鹦鹉办证" in page  # the flash message
    assert "<td>怎么给鹦鹉办证</td>" not in page and "<td>火星移民政策</td>" in page
    assert ed.post("/admin/kb/gaps/999999/resolve", headers=HTML).status_code == 404


def test_unhelpful_articles_are_listed_with_the_gaps(people: Flask) -> None:
    from knowledge_base.articles import record_feedback

    ed, boss = signed_in(people, "ed"), signed_in(people, "boss")
    key = create(ed)
    publish(ed, boss, key)
    record_feedback(key, helpful=False, channel="portal", query="狗证去哪里办")
    page = ed.get("/admin/kb/gaps").text
    assert f">{key}</a>" in page and "狗证去哪里办" in page


def test_refusals_follow_the_page_language(people: Flask) -> None:
    ed = signed_in(people, "ed")
    key = create(ed)
    ed.post(f"/admin/kb/{key}/submit")
    response = ed.post(f"/admin/kb/{key}/review?lang=en", data={"decision": "publish"})
    assert response.status_code == 403
    assert "the author of a version cannot review it" in response.text
    response = ed.post("/admin/kb/new", data=article_form(title=""))
    assert response.status_code == 422 and "is required" in response.text


def test_every_form_carries_a_csrf_token(people: Flask) -> None:
    ed, boss = signed_in(people, "ed"), signed_in(people, "boss")
    key = create(ed)
    publish(ed, boss, key)
    people.config["WTF_CSRF_ENABLED"] = True
    try:
        assert ed.post(f"/admin/kb/{key}/withdraw", data={"reason": "x"}).status_code == 400
        page = ed.get(f"/admin/kb/{key}").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        response = ed.post(
            f"/admin/kb/{key}/withdraw", data={"reason": "政策已废止", "csrf_token": token[1]}
        )
        assert response.status_code == 302
        form = ed.get("/admin/kb/new").text
        assert 'name="csrf_token"' in form
        assert 'name="csrf_token"' in ed.get("/admin/kb/synonyms").text
    finally:
        people.config["WTF_CSRF_ENABLED"] = False
