"""The knowledge editors' pages (/admin/kb): articles, review, versions, gaps, synonyms.

Editors and administrators only. Each write calls one service of `knowledge_base`;
a refusal is shown on the page it came from, in the page's language, with its status.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import Select, and_, or_, select

from hotline.errors import HotlineError, InvalidInput, NotFound
from hotline.extensions import db, login_manager
from hotline.models import Article, ArticleVersion, Category, Department, Role, User
from knowledge_base import articles as kb
from knowledge_base.gaps import list_gaps, most_unhelpful, resolve_gap
from knowledge_base.render import render_markdown
from knowledge_base.search import today
from knowledge_base.synonyms import current_groups, parse_lines, replace_synonyms
from web.errors import error_response, wants_json
from web.kb_admin.forms import CHANNEL_NAMES, KIND_NAMES, ArticleForm

bp = Blueprint("kb_admin", __name__, url_prefix="/admin/kb")

EDITOR_ROLES = frozenset({Role.EDITOR, Role.ADMIN})
PAGE_SIZE = 100
STATUS_NAMES = {
    "draft": _l("Draft (never published)"),
    "published": _l("Published"),
    "not_yet": _l("Published, not yet in force"),
    "expired": _l("Expired"),
    "withdrawn": _l("Withdrawn"),
}
STATE_NAMES = {
    "draft": _l("Draft"),
    "review": _l("Awaiting review"),
    "approved": _l("Approved, awaiting publication"),
    "published": _l("Published"),
    "superseded": _l("Superseded"),
    "rejected": _l("Sent back"),
    "withdrawn": _l("Withdrawn"),
}
FIELD_NAMES = {
    "title": _l("Title"),
    "kind": _l("Kind"),
    "category": _l("Category"),
    "department": _l("Responsible unit"),
    "body": _l("Answer"),
    "keywords": _l("Keywords"),
    "questions": _l("Similar questions"),
    "materials": _l("Required materials"),
    "issuing_unit": _l("Issuing unit"),
    "document_number": _l("Document number"),
    "effective_from": _l("Effective from"),
    "effective_to": _l("Effective until"),
    "channels": _l("Channels"),
}


@bp.before_request
def editors_only():  # type: ignore[no-untyped-def]
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.role not in EDITOR_ROLES:
        abort(403)
    return None


@bp.context_processor
def labels() -> dict[str, Any]:
    return {
        "kind_names": KIND_NAMES,
        "channel_names": CHANNEL_NAMES,
        "status_names": STATUS_NAMES,
        "state_names": STATE_NAMES,
        "field_names": FIELD_NAMES,
    }


@bp.errorhandler(HotlineError)
def refused(exc: HotlineError):  # type: ignore[no-untyped-def]
    """A service said no: show why on the article's page (or a plain page), never a 500."""
    db.session.rollback()
    if wants_json():
        return error_response(exc.status, exc.to_dict())
    english = (locale := get_locale()) is not None and locale.language == "en"
    message = exc.message if english else exc.message_zh
    key = (request.view_args or {}).get("key")
    if key and request.method == "POST" and not isinstance(exc, NotFound):
        try:
            return _article_page(kb.get_article(key), error=message), exc.status
        except NotFound:  # e.g. a reason checked before the key: show the first refusal
            pass
    return render_template("kb_admin/problem.html", status=exc.status, message=message), exc.status


def actor() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


# --- the list ------------------------------------------------------------------------


@bp.get("")
def index():  # type: ignore[no-untyped-def]
    filters = {
        name: request.args.get(name, "").strip() for name in ("q", "status", "kind", "category")
    }
    rows = db.session.scalars(_filtered(filters).limit(PAGE_SIZE)).all()
    heads = _heads(rows)
    return render_template(
        "kb_admin/index.html",
        articles=rows,
        heads=heads,
        updated={a.id: _updated(a, heads.get(a.id)) for a in rows},
        filters=filters,
        shown_status={a.id: kb.display_status(a) for a in rows},
        categories=_categories(),
        late=[(v, db.session.get(Article, v.article_id)) for v in kb.late_publications()],
        page_size=PAGE_SIZE,
    )


def _filtered(filters: dict[str, str]) -> Select[tuple[Article]]:
    query = select(Article).order_by(Article.key)
    if filters["q"]:
        pattern = f"%{filters['q'].lower()}%"
        query = query.where(or_(Article.key.ilike(pattern), Article.title.ilike(pattern)))
    if filters["kind"] in kb.KINDS:
        query = query.where(Article.kind == filters["kind"])
    if filters["category"]:
        query = query.join(Category, Article.category_id == Category.id).where(
            Category.code == filters["category"]
        )
    day, status = today(), filters["status"]
    published = Article.status == "published"
    if status in ("draft", "withdrawn"):
        query = query.where(Article.status == status)
    elif status == "expired":
        query = query.where(published, Article.effective_to < day)
    elif status == "not_yet":
        query = query.where(published, Article.effective_from > day)
    elif status == "published":
        query = query.where(
            published,
            Article.effective_from <= day,
            or_(Article.effective_to.is_(None), Article.effective_to >= day),
        )
    return query


def _heads(rows: Sequence[Article]) -> dict[int, ArticleVersion]:
    """Each listed article's newest version (one query)."""
    if not rows:
        return {}
    found = db.session.scalars(
        select(ArticleVersion)
        .join(
            Article,
            and_(
                ArticleVersion.article_id == Article.id,
                ArticleVersion.number == Article.head_number,
            ),
        )
        .where(Article.id.in_([a.id for a in rows]))
    )
    return {v.article_id: v for v in found}


def _updated(article: Article, head: ArticleVersion | None) -> datetime | None:
    moments = [article.created_at, article.published_at, article.withdrawn_at]
    if head is not None:
        moments += [head.created_at, head.submitted_at, head.reviewed_at]
    return max((m for m in moments if m is not None), default=None)


def _categories() -> list[tuple[str, str]]:
    rows = db.session.execute(
        select(Category.code, Category.name)
        .where(Category.active.is_(True))
        .order_by(Category.code)
    ).all()
    return [(code, f"{code} {name}") for code, name in rows]


def _departments() -> list[tuple[str, str]]:
    rows = db.session.execute(
        select(Department.code, Department.name)
        .where(Department.active.is_(True))
        .order_by(Department.code)
    ).all()
    return [(code, f"{name} ({code})") for code, name in rows]


# --- writing -------------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
def new():  # type: ignore[no-untyped-def]
    form = _form()
    if form.validate_on_submit():
        try:
            article = kb.create_article(form.content(), actor())
        except InvalidInput as exc:
            form.refuse(exc)
        else:
            flash(_("Draft %(key)s saved.", key=article.key), "ok")
            return redirect(url_for(".article", key=article.key))
    return _form_page(form, None)


@bp.route("/<key>/edit", methods=["GET", "POST"])
def edit(key: str):  # type: ignore[no-untyped-def]
    article = kb.get_article(key)
    head = kb.version_of(article, article.head_number)
    form = _form()
    if form.validate_on_submit():
        try:
            version = kb.edit_article(key, form.content(), actor())
        except InvalidInput as exc:
            form.refuse(exc)
        else:
            flash(_("Version %(n)s saved as a draft.", n=version.number), "ok")
            return redirect(url_for(".article", key=key))
    elif request.method == "GET":
        form.fill(head.content())
    return _form_page(form, article, head)


def _form() -> ArticleForm:
    form = ArticleForm()
    form.set_choices(_categories(), _departments())
    return form


def _form_page(form: ArticleForm, article: Article | None, head: ArticleVersion | None = None):  # type: ignore[no-untyped-def]
    status = 200
    if request.method == "POST":
        status = 400 if "csrf_token" in form.errors else 422
    return render_template("kb_admin/form.html", form=form, article=article, head=head), status


# --- one article ---------------------------------------------------------------------


@bp.get("/<key>")
def article(key: str):  # type: ignore[no-untyped-def]
    return _article_page(kb.get_article(key))


def _article_page(article: Article, error: str | None = None) -> str:
    live = kb.live_version(article)
    head = kb.version_of(article, article.head_number)
    users = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(
                User.id.in_(
                    {v.created_by_id for v in article.versions}
                    | {v.reviewed_by_id for v in article.versions}
                )
            )
        )
    }
    return render_template(
        "kb_admin/article.html",
        article=article,
        live=live,
        head=head,
        body=render_markdown(live.body) if live else None,
        head_body=render_markdown(head.body) if head.number != article.live_number else None,
        shown_status=kb.display_status(article),
        users=users,
        late_ids={v.id for v in kb.late_publications()},
        error=error,
        own_head=current_app.config["KB_FOUR_EYES"] and head.created_by_id == current_user.id,
    )


@bp.post("/<key>/submit")
def submit(key: str):  # type: ignore[no-untyped-def]
    version = kb.submit_for_review(key, actor())
    flash(_("Version %(n)s submitted for review.", n=version.number), "ok")
    return redirect(url_for(".article", key=key))


@bp.post("/<key>/review")
def review(key: str):  # type: ignore[no-untyped-def]
    decision = request.form.get("decision", "")
    if decision not in ("publish", "approve", "reject"):
        raise InvalidInput("choose approve or reject", "请选择通过或退回", field="decision")
    version = kb.review_version(
        key,
        actor(),
        approve=decision != "reject",
        note=request.form.get("note"),
        publish=decision == "publish",
    )
    messages = {
        "publish": _("Version %(n)s approved and published.", n=version.number),
        "approve": _("Version %(n)s approved; publish it when due.", n=version.number),
        "reject": _("Version %(n)s sent back to its author.", n=version.number),
    }
    flash(messages[decision], "ok")
    return redirect(url_for(".article", key=key))


@bp.post("/<key>/publish")
def publish(key: str):  # type: ignore[no-untyped-def]
    version = kb.publish_version(key, actor())
    flash(_("Version %(n)s published.", n=version.number), "ok")
    return redirect(url_for(".article", key=key))


@bp.post("/<key>/withdraw")
def withdraw(key: str):  # type: ignore[no-untyped-def]
    kb.withdraw_article(key, actor(), reason=request.form.get("reason", ""))
    flash(_("Article withdrawn from every channel."), "ok")
    return redirect(url_for(".article", key=key))


@bp.get("/<key>/compare")
def compare(key: str):  # type: ignore[no-untyped-def]
    article = kb.get_article(key)
    older, newer = request.args.get("a", type=int), request.args.get("b", type=int)
    if older is None or newer is None:
        raise InvalidInput("a and b must be version numbers", "请选择要比较的两个版本")
    changes = kb.compare_versions(article, older, newer)
    return render_template(
        "kb_admin/compare.html", article=article, older=older, newer=newer, changes=changes
    )


# --- gaps and synonyms ---------------------------------------------------------------


@bp.get("/gaps")
def gaps():  # type: ignore[no-untyped-def]
    return render_template("kb_admin/gaps.html", gaps=list_gaps(), unhelpful=most_unhelpful())


@bp.post("/gaps/<int:gap_id>/resolve")
def resolve(gap_id: int):  # type: ignore[no-untyped-def]
    gap = resolve_gap(gap_id, actor())
    flash(_("Marked resolved: %(query)s", query=gap.query), "ok")
    return redirect(url_for(".gaps"))


@bp.route("/synonyms", methods=["GET", "POST"])
def synonyms():  # type: ignore[no-untyped-def]
    if request.method == "POST":
        count = replace_synonyms(parse_lines(request.form.get("groups", "")), actor())
        flash(_("%(n)s synonym groups saved; published articles re-indexed.", n=count), "ok")
        return redirect(url_for(".synonyms"))
    text = "\n".join(" ".join(group) for group in current_groups())
    return render_template("kb_admin/synonyms.html", text=text)
