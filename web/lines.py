"""The legacy hotlines page (/lines): which old number maps where, for every staff role."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from hotline.intake.lines import legacy_lines

bp = Blueprint("lines", __name__, url_prefix="/lines")


@bp.get("")
@login_required
def index():  # type: ignore[no-untyped-def]
    return render_template("lines/index.html", lines=legacy_lines())
