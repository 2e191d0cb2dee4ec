"""Web chat over Socket.IO: the citizen's widget on the portal and its agent side."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("chat", __name__, url_prefix="/chat")

from web.chat import events, views  # noqa: E402,F401  (routes and Socket.IO handlers)
