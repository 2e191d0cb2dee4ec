"""The hotline centre's live working surfaces: the staff Socket.IO namespace "/office"
(connection, rooms, replay of missed events, watching a ticket) and the department
inbox with the unit's actions on a ticket."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("desk", __name__)

from web.desk import calls, console, dispatch, events, inbox, office  # noqa: E402,F401  (handlers, pages)
