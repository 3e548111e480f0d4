"""Agents: one per role, each on its own model (see `modelfiles/`).

Each is built with `terraqore.client.models`.
"""
