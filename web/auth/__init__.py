"""Sign in and out of the web pages (Flask-Login sessions)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from hotline.audit import record_event
from hotline.auth import check_password
from hotline.extensions import db, limiter
from hotline.models import User

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=256)])


def _safe_next(target: str | None) -> str:
    """Only a local path: browsers drop tabs and newlines, so "/\t/x" would mean "//x"."""
    if (
        target
        and target.startswith("/")
        and target.isprintable()
        and not target.startswith("//")
        and "\\" not in target
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("main.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config.get("LOGIN_RATE_LIMIT", "10 per minute"), methods=["POST"]
)
def login():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == form.username.data))
        if check_password(user, form.password.data or "") and user is not None and user.active:
            login_user(user)
            record_event("user.login", actor=user, data={"ip": request.remote_addr})
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
        record_event(
            "user.login_failed",
            actor=None,
            data={"username": form.username.data, "ip": request.remote_addr},
        )
        db.session.commit()
        flash(_("Wrong user name or password."), "error")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    record_event("user.logout", actor=current_user._get_current_object())
    db.session.commit()
    logout_user()
    return redirect(url_for("auth.login"))
