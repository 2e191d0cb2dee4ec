"""The online hall (网上办事大厅) for citizens: submit, track, search the knowledge base."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/portal")

from web.portal import views  # noqa: E402,F401  (routes register on bp)
