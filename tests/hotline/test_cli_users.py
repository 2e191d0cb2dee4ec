"""`hotline users add|token`: users are refused with a reason, tokens work on the API."""

from __future__ import annotations

from sqlalchemy import func, select

from hotline.auth import check_password
from hotline.extensions import db
from hotline.models import ApiToken, Event, User


def users() -> list[tuple[str, str, str | None]]:
    rows = db.session.scalars(select(User).order_by(User.username)).all()
    return [(u.username, u.role, u.department.code if u.department else None) for u in rows]


def test_handler_without_department_is_refused(runner, catalogue):
    result = runner.invoke(args=["users", "add", "li", "--role", "handler"])
    assert result.exit_code == 1
    assert "a handler needs --department" in result.output
    assert "承办人必须指定所属单位" in result.output
    assert users() == []


def test_unknown_department_is_refused(runner, catalogue):
    result = runner.invoke(args=["users", "add", "li", "--role", "handler", "--department", "NOPE"])
    assert result.exit_code == 1
    assert "no department 'NOPE'" in result.output
    assert users() == []


def test_unknown_role_is_refused(runner, catalogue):
    result = runner.invoke(args=["users", "add", "li", "--role", "mayor"])
    assert result.exit_code == 1
    assert "unknown role 'mayor'" in result.output
    assert users() == []


def test_duplicate_user_is_refused(runner, catalogue):
    assert runner.invoke(args=["users", "add", "li", "--role", "agent"]).exit_code == 0
    result = runner.invoke(args=["users", "add", "li", "--role", "dispatcher"])
    assert result.exit_code == 1
    assert "user 'li' exists" in result.output
    assert users() == [("li", "agent", None)]


def test_valid_users_are_added(runner, catalogue):
    result = runner.invoke(
        args=[
            "users",
            "add",
            "li",
            "--role",
            "handler",
            "--department",
            "PJQ",
            "--password",
            "a long passphrase",
            "--display-name",
            "李承办",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "user li (handler) created" in result.output
    assert runner.invoke(args=["users", "add", "wang", "--role", "supervisor"]).exit_code == 0
    assert users() == [("li", "handler", "PJQ"), ("wang", "supervisor", None)]

    li = db.session.scalar(select(User).where(User.username == "li"))
    assert li.display_name == "李承办"
    assert li.password_hash.startswith("$argon2id$")
    assert "a long passphrase" not in li.password_hash
    assert check_password(li, "a long passphrase")
    assert not check_password(li, "a wrong passphrase")
    wang = db.session.scalar(select(User).where(User.username == "wang"))
    assert wang.password_hash is None  # API-only: no password sign-in at all
    assert not check_password(wang, "")
    created = db.session.scalars(select(Event).where(Event.action == "user.created")).all()
    assert [e.data["username"] for e in created] == ["li", "wang"]  # permission changes logged


def test_token_authenticates_the_api(runner, client, catalogue):
    runner.invoke(args=["users", "add", "li", "--role", "handler", "--department", "PJQ"])
    result = runner.invoke(args=["users", "token", "li"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert len(token) >= 40 and "\n" not in token

    response = client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.json
    assert response.json["total"] == 0
    # only a digest is kept, and a changed token is refused
    stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored and len(stored) == 1
    wrong = client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}x"})
    assert wrong.status_code == 401

    # a second token works too; the first stays valid
    second = runner.invoke(args=["users", "token", "li"]).output.strip()
    assert second != token
    for each in (token, second):
        ok = client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {each}"})
        assert ok.status_code == 200


def test_token_of_a_deactivated_user_is_refused(runner, client, catalogue):
    runner.invoke(args=["users", "add", "li", "--role", "agent"])
    token = runner.invoke(args=["users", "token", "li"]).output.strip()
    user = db.session.scalar(select(User).where(User.username == "li"))
    user.active = False
    db.session.commit()
    response = client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_token_for_unknown_user_is_refused(runner, catalogue):
    result = runner.invoke(args=["users", "token", "nobody"])
    assert result.exit_code == 1
    assert "no user 'nobody'" in result.output
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0
