"""The HTML pages: sign-in, languages, unit-scoped ticket pages, security headers, health
probes, error pages, and CSRF on session-authenticated API writes."""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import func, select

from hotline.auth import add_user
from hotline.extensions import db
from hotline.models import Event, Ticket
from hotline.models.base import simulated_now
from tests.conftest import Client

SHANGHAI = ZoneInfo("Asia/Shanghai")
PASSWORD = "correct horse battery staple"
HTML = {"Accept": "text/html,application/xhtml+xml"}


class PageClient(Client):
    """Also forget the locale Flask-Babel cached in `g` by the previous request."""

    def open(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def,override]
        g.pop("_flask_babel", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = PageClient
    return app.test_client()


@pytest.fixture(autouse=True)
def _tuesday_morning():  # type: ignore[no-untyped-def]
    with simulated_now(datetime(2025, 6, 10, 10, 0, tzinfo=SHANGHAI)):
        yield


def create(staff: Any, content: str, **extra: Any) -> str:
    body = {
        "channel": "phone",
        "type": "complaint",
        "content": content,
        "category": "0101",
        "phone": "13812345678",
        "name": "张三丰",
        **extra,
    }
    response = staff.post("agent", "/tickets", body)
    assert response.status_code == 201, response.json
    return response.json["reference"]


def dispatch(staff: Any, ref: str, department: str) -> None:
    response = staff.act("agent", ref, "dispatch", {"department": department})
    assert response.status_code == 200, response.json


def login(client: Any, username: str, password: str = PASSWORD, **kwargs: Any) -> Any:
    return client.post("/login", data={"username": username, "password": password}, **kwargs)


@pytest.fixture
def web_handler(staff: Any) -> str:
    """A PJQ handler with a password, next to the API users of `staff`."""
    add_user("pjq_web", "handler", department_code="PJQ", password=PASSWORD)
    return "pjq_web"


def test_login_page_switches_to_english_on_request(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text  # Simplified Chinese is the default locale
    english = client.get("/login?lang=en")
    assert '<html lang="en">' in english.text
    assert "Sign in" in english.text
    assert "登录" not in english.text
    assert '<html lang="en">' in client.get("/login").text  # the choice is remembered


def test_pages_are_in_chinese_by_default(client, web_handler):
    assert "登录" in client.get("/login").text
    assert "Sign in" not in client.get("/login").text
    assert "用户名或密码错误" in login(client, web_handler, "wrong password").text
    assert "Sign in" in client.get("/login?lang=en").text
    assert "登录" in client.get("/login?lang=zh_Hans_CN").text


def test_password_login_shows_the_units_tickets(staff, client, web_handler):
    own = create(staff, "蓬江区道路破损")
    other = create(staff, "超市出售过期食品")
    dispatch(staff, own, "PJQ")
    dispatch(staff, other, "SCJGJ")

    response = login(client, web_handler)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").headers["Location"] == "/inbox"  # a unit starts from its inbox

    page = client.get("/tickets")
    assert page.status_code == 200
    assert own in page.text
    assert other not in page.text
    assert client.get(f"/tickets/{own}").status_code == 200
    refused = client.get(f"/tickets/{other}", headers=HTML)
    assert refused.status_code == 403
    assert "超市出售过期食品" not in refused.text
    assert client.get("/tickets/NOPE", headers=HTML).status_code == 404

    logins = db.session.scalars(select(Event).where(Event.action == "user.login")).all()
    assert [(e.actor_name, e.actor_role) for e in logins] == [("pjq_web", "handler")]


def test_confidential_caller_is_hidden_on_the_units_ticket_page(staff, client, web_handler):
    ref = create(staff, "举报单位拖欠工资", confidential=True)
    dispatch(staff, ref, "PJQ")
    login(client, web_handler)
    page = client.get(f"/tickets/{ref}").text
    assert "来电人信息保密" in page or "Confidential caller" in page
    assert "张三丰" not in page and "5678" not in page


def test_office_user_sees_every_ticket_page(staff, client):
    add_user("desk", "agent", password=PASSWORD)
    refs = [create(staff, "噪音扰民"), create(staff, "油烟直排")]
    dispatch(staff, refs[0], "PJQ")
    login(client, "desk")
    page = client.get("/tickets").text
    assert all(ref in page for ref in refs)
    assert "张三丰" in client.get(f"/tickets/{refs[0]}").text


@pytest.mark.parametrize(
    ("username", "password"), [("pjq_web", "wrong password"), ("nobody", PASSWORD)]
)
def test_wrong_credentials_are_refused_and_logged(client, web_handler, username, password):
    response = login(client, username, password)
    assert response.status_code == 401
    flash = re.findall(r'<p class="flash error">([^<]+)</p>', response.text)
    assert len(flash) == 1  # the same message either way: no hint which part was wrong
    assert flash[0] in ("用户名或密码错误。", "Wrong user name or password.")
    assert client.get("/tickets").status_code == 302  # still signed out
    failed = db.session.scalars(select(Event).where(Event.action == "user.login_failed")).all()
    assert [e.data["username"] for e in failed] == [username]
    assert failed[0].actor_id is None
    assert not db.session.scalars(select(Event).where(Event.action == "user.login")).all()


def test_inactive_user_cannot_sign_in(client, web_handler):
    from hotline.models import User

    user = db.session.scalar(select(User).where(User.username == web_handler))
    user.active = False
    db.session.commit()
    assert login(client, web_handler).status_code == 401


def test_pages_require_login(client):
    for path in ("/", "/tickets", "/tickets/44070020250610000001"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next=")


def test_editor_gets_no_ticket_pages(client, staff):
    add_user("kb", "editor", password=PASSWORD)
    ref = create(staff, "咨询医保")
    login(client, "kb")
    assert client.get("/tickets", headers=HTML).status_code == 403
    assert client.get(f"/tickets/{ref}", headers=HTML).status_code == 403


def test_login_redirects_only_to_local_paths(client, web_handler):
    assert (
        login(client, web_handler, query_string={"next": "/tickets?status=closed"}).headers[
            "Location"
        ]
        == "/tickets?status=closed"
    )
    for target in ("//evil.example/", "https://evil.example/", "javascript:alert(1)"):
        client.post("/logout")
        response = login(client, web_handler, query_string={"next": target})
        assert response.headers["Location"] == "/", target


@pytest.mark.parametrize("target", ["/\t/evil.example/", "/\r/evil.example/", "/\n/evil.example/"])
def test_login_does_not_redirect_off_site_through_control_characters(client, web_handler, target):
    response = login(client, web_handler, query_string={"next": target})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert urlsplit(location).netloc == ""
    assert not location.startswith("//")


def test_backslash_in_next_stays_on_site(client, web_handler):
    # browsers read an unencoded "/\\host" as "//host"; it must leave as an encoded path
    location = login(client, web_handler, query_string={"next": "/\\evil.example/"}).headers[
        "Location"
    ]
    assert urlsplit(location.replace("\\", "/")).netloc == ""


def test_security_headers_on_pages_api_and_errors(client, api):
    api.user("agent", "agent")
    responses = [
        client.get("/login"),
        client.get("/healthz"),
        client.get("/no-such-page", headers=HTML),
        api.get("agent", "/tickets"),
    ]
    for response in responses:
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp
    assert responses[-1].headers["Cache-Control"] == "no-store"  # API answers are not cached


def test_pages_carry_no_inline_script_the_csp_would_block(client, web_handler):
    login(client, web_handler)
    page = client.get("/tickets")
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]
    assert not re.search(r"\son[a-z]+\s*=", page.text)
    assert "<script>" not in page.text


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_checks_database_and_redis(client):
    response = client.get("/readyz")
    checks = response.json["checks"]
    assert checks["database"] == "ok"
    if os.environ.get("REDIS_URL"):
        assert (response.status_code, checks["redis"], response.json["status"]) == (
            200,
            "ok",
            "ready",
        )
    else:
        assert response.status_code == 503
        assert checks["redis"].startswith("error")
        assert response.json["status"] == "not ready"


def test_not_found_is_html_for_browsers_and_json_for_the_api(client):
    page = client.get("/no-such-page", headers=HTML)
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    assert "找不到该资源" in page.text
    api = client.get("/api/v1/no-such-thing", headers=HTML)
    assert api.status_code == 404
    assert api.mimetype == "application/json"
    assert api.json["error"]["code"] == "not_found"
    asked = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert asked.mimetype == "application/json"


def test_session_api_writes_need_the_csrf_token(app, client, staff):
    add_user("desk", "agent", password=PASSWORD)
    assert login(client, "desk").status_code == 302
    app.config["WTF_CSRF_ENABLED"] = True
    body = {"channel": "phone", "type": "consult", "content": "咨询公积金"}

    # a signed-in browser may read without a token ...
    assert client.get("/api/v1/tickets").status_code == 200
    # ... but not write
    refused = client.post("/api/v1/tickets", json=body)
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "forbidden"
    forged = client.post("/api/v1/tickets", json=body, headers={"X-CSRFToken": "forged"})
    assert forged.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0

    # the token the pages carry (the sign-out form) is accepted
    page = client.get("/tickets").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    accepted = client.post("/api/v1/tickets", json=body, headers={"X-CSRFToken": token[1]})
    assert accepted.status_code == 201, accepted.json
    assert accepted.json["caller"]["identity"] == "full"


def test_login_form_needs_the_csrf_token_when_enabled(app, client, web_handler):
    app.config["WTF_CSRF_ENABLED"] = True
    response = login(client, web_handler)
    assert response.status_code == 400
    assert client.get("/tickets").status_code == 302  # not signed in
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").text)
    assert token is not None
    response = client.post(
        "/login", data={"username": web_handler, "password": PASSWORD, "csrf_token": token[1]}
    )
    assert response.status_code == 302


def test_a_bogus_bearer_header_does_not_bypass_csrf_for_a_session(app, client, staff):
    add_user("desk", "agent", password=PASSWORD)
    assert login(client, "desk").status_code == 302
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(
        "/api/v1/tickets",
        json={"channel": "phone", "type": "consult", "content": "咨询公积金"},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert response.status_code in (401, 403)
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_password_guessing_is_rate_limited(app, _tmp_dir):
    from hotline import create_app
    from tests.conftest import base_config

    limited = create_app(
        {
            **base_config(_tmp_dir),
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            "LOGIN_RATE_LIMIT": "3 per minute",
        }
    )
    with limited.app_context():
        client = limited.test_client()
        codes = [
            client.post("/login", data={"username": "nobody", "password": "x"}).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        db.session.remove()
        db.engine.dispose()
