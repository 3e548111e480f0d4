"""server/runtime."""
