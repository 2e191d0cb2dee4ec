"""Passwords (Argon2id), API bearer tokens, and Flask-Login's user loaders."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Request, current_app
from sqlalchemy import select

from hotline.errors import InvalidInput, NotFound
from hotline.extensions import db
from hotline.models import ApiToken, Department, Role, User, utcnow


def _hasher() -> PasswordHasher:
    """Argon2id with the library's (RFC 9106) defaults unless configured otherwise."""
    params = current_app.config.get("ARGON2_PARAMETERS") or {}
    return PasswordHasher(**params)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


_DUMMY_HASH: dict[str, str] = {}


def check_password(user: User | None, password: str) -> bool:
    """Verify; an unknown user costs the same time, so timing does not reveal user names."""
    if user is None or not user.password_hash:
        params = str(current_app.config.get("ARGON2_PARAMETERS"))
        if params not in _DUMMY_HASH:
            _DUMMY_HASH[params] = _hasher().hash(secrets.token_urlsafe(16))
        with contextlib.suppress(VerificationError, InvalidHashError):
            _hasher().verify(_DUMMY_HASH[params], password)
        return False
    try:
        return _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if one was sent."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def user_for_token(token: str) -> User | None:
    row = db.session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == token_digest(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None or not row.user.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > TOKEN_TOUCH_INTERVAL:
        row.last_used_at = now  # coarse, so reads do not all turn into writes
        db.session.commit()
    return row.user


def load_user_from_request(request: Request) -> User | None:
    """Flask-Login's fallback when there is no session: a bearer token."""
    token = bearer_token(request)
    return user_for_token(token) if token else None


def add_user(
    username: str,
    role: str,
    *,
    display_name: str | None = None,
    department_code: str | None = None,
    password: str | None = None,
) -> User:
    """Create a user; handlers must belong to a unit (承办单位)."""
    if role not in {r.value for r in Role}:
        raise InvalidInput(f"unknown role {role!r}", f"未知角色 {role!r}", field="role")
    if db.session.scalar(select(User).where(User.username == username)):
        raise InvalidInput(f"user {username!r} exists", f"用户 {username!r} 已存在", field="name")
    department = None
    if department_code:
        department = db.session.scalar(
            select(Department).where(
                Department.code == department_code, Department.active.is_(True)
            )
        )
        if department is None:
            raise NotFound(f"no department {department_code!r}", f"没有单位 {department_code!r}")
    if role == Role.HANDLER and department is None:
        raise InvalidInput(
            "a handler needs --department",
            "承办人必须指定所属单位 --department",
            field="department",
        )
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        department=department,
        password_hash=hash_password(password) if password else None,
    )
    db.session.add(user)
    from hotline.audit import record_event

    record_event(
        "user.created",
        actor=None,
        data={"username": username, "role": role, "department": department_code},
    )
    db.session.commit()
    return user


def issue_token(username: str, name: str = "cli") -> str:
    """Create a bearer token for a user and return it (only its hash is kept)."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}", f"没有用户 {username!r}")
    token = secrets.token_urlsafe(32)
    db.session.add(ApiToken(user=user, token_hash=token_digest(token), name=name))
    from hotline.audit import record_event

    record_event("user.token_issued", actor=None, data={"username": username, "name": name})
    db.session.commit()
    return token
