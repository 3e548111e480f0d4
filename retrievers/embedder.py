"""Text to vectors through the server's `/api/embed`, with each model's task prefixes.

Vectors come back as float32 rows, L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import ollama

from retrievers.errors import EmbeddingError

# nomic-embed-text was trained with task prefixes; without them its retrieval quality drops.
TASK_PREFIXES: dict[str, tuple[str, str]] = {
    "nomic-embed-text": ("search_query: ", "search_document: "),
}


class Embedder(Protocol):
    """What retrieval needs from an embedding model."""

    model: str

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """One normalised row per text, with the document prefix."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """One normalised row, with the query prefix."""
        ...


def task_prefixes(model: str) -> tuple[str, str]:
    """(query prefix, document prefix) of a model; empty for models trained without them."""
    base = model.rsplit("/", 1)[-1].split(":", 1)[0]
    return TASK_PREFIXES.get(base, ("", ""))


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    rows = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.ascontiguousarray(rows / np.where(norms == 0, 1.0, norms), dtype=np.float32)


class ServerEmbedder:
    """Embeddings from an Ollama-compatible server (ours, or a real Ollama)."""

    def __init__(self, client: ollama.Client, model: str) -> None:
        self.client = client
        self.model = model
        self.query_prefix, self.document_prefix = task_prefixes(model)

    def _embed(self, texts: list[str]) -> np.ndarray:
        try:
            response = self.client.embed(model=self.model, input=texts, truncate=True)
        except ollama.ResponseError as exc:
            raise EmbeddingError(
                f"embedding with {self.model} failed ({exc.status_code}): {exc.error}"
            ) from exc
        vectors = np.asarray(response.embeddings, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise EmbeddingError(
                f"{self.model} returned {len(vectors)} vectors for {len(texts)} texts"
            )
        return normalise(vectors)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """One normalised row per text, with the document prefix."""
        return self._embed([self.document_prefix + t for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        """One normalised row, with the query prefix."""
        vector: np.ndarray = self.embed_queries([text])[0]
        return vector

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """One normalised row per query, with the query prefix (for batch evaluation)."""
        return self._embed([self.query_prefix + t for t in texts])
