"""The hotline centre's live working surfaces. So far their realtime side: the staff
Socket.IO namespace "/office" (connection, rooms, replay of missed events, watching a
ticket)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("desk", __name__)

from web.desk import events  # noqa: E402,F401  (Socket.IO handlers)
