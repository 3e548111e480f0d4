"""Errors of the retrieval layer (kept light: the CLI imports them on every command)."""

from __future__ import annotations


class EmbeddingError(RuntimeError):
    """The embedding model could not embed; the message says why."""


class IndexNotReady(RuntimeError):
    """The lake has chunks but no usable vector index; the message says what to run."""
