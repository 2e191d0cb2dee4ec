"""Window pages (to be built)."""
