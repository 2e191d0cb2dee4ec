"""The ticket page offers the office the knowledge base's answers and a direct answer
(直接答复) that records the article used; units never see it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import g
from sqlalchemy import select

from hotline.extensions import db
from hotline.models import TicketArticle
from knowledge_base.io import import_knowledge_base
from tests.conftest import Client

SAMPLE_KB = Path(__file__).resolve().parent.parent / "knowledge_base" / "data" / "kb.sample.yaml"
PASSWORD = "correct horse battery staple"


class PageClient(Client):
    def open(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def,override]
        g.pop("_flask_babel", None)
        return super().open(*args, **kwargs)


def _signed_in(app: Any, username: str) -> Any:
    app.test_client_class = PageClient
    browser = app.test_client()
    response = browser.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def test_an_agent_answers_a_consultation_from_the_suggested_article(app, staff):
    import_knowledge_base(SAMPLE_KB)
    staff.user("agent_web", "agent", password=PASSWORD)
    staff.user("pjq_web", "handler", "PJQ", password=PASSWORD)
    created = staff.post(
        "agent",
        "/tickets",
        {"channel": "phone", "type": "consult", "content": "请问在江门养狗要不要办狗证，去哪里办"},
    )
    reference = created.json["reference"]
    agent = _signed_in(app, "agent_web")
    page = agent.get(f"/tickets/{reference}").text
    assert "知识库答复建议" in page and 'value="kb-9002"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    done = agent.post(
        f"/tickets/{reference}/answer",
        data={"article": "kb-9002", "text": "需要办理犬只登记。", "csrf_token": token},
        follow_redirects=True,
    )
    assert "已直接答复并办结" in done.text
    keys = db.session.scalars(select(TicketArticle.article_key)).all()
    assert keys == ["kb-9002"]
    assert "知识库答复建议" not in agent.get(f"/tickets/{reference}").text  # closed now

    again = staff.post(
        "agent", "/tickets", {"channel": "phone", "type": "consult", "content": "养狗要登记吗"}
    )
    other = again.json["reference"]
    staff.act("agent", other, "dispatch", {"department": "PJQ"})
    handler = _signed_in(app, "pjq_web")
    assert "知识库答复建议" not in handler.get(f"/tickets/{other}").text


def test_a_refused_direct_answer_says_why_on_the_page(app, staff):
    import_knowledge_base(SAMPLE_KB)
    staff.user("agent_web", "agent", password=PASSWORD)
    reference = staff.post(
        "agent", "/tickets", {"channel": "phone", "type": "consult", "content": "公租房怎么申请"}
    ).json["reference"]
    agent = _signed_in(app, "agent_web")
    page = agent.get(f"/tickets/{reference}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    response = agent.post(
        f"/tickets/{reference}/answer",
        data={"article": "kb-0404", "text": "答复", "csrf_token": token},
        follow_redirects=True,
    )
    assert response.status_code == 200 and "知识库文章不存在" in response.text
