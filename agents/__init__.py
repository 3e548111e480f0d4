"""Agents: one per role, each on its own model (see `modelfiles/`), built with `terraqore.models`."""
