"""The walk-in service window (窗口): staff take requests on one form (一表填报)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("window", __name__, url_prefix="/window")

from web.window import views  # noqa: E402,F401  (routes register on bp)
