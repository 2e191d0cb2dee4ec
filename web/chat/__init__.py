"""Web chat over Socket.IO: the citizen's widget on the portal and its agent side."""

from __future__ import annotations

from web.chat import events  # noqa: F401  (Socket.IO handlers register on import)
