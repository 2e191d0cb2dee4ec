"""Chat Socket.IO events (to be built)."""
