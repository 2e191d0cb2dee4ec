"""Chat pages (to be built)."""
