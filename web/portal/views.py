"""Online hall pages (to be built)."""
