"""ONNX sentence embeddings (all-MiniLM): tokenizers + onnxruntime, mean-pooled, L2-normalised.

This is the one non-GGUF format the server runs; it sits behind the same `Runner`
protocol and `/api/embed` route as GGUF models. It embeds and does nothing else: its engine
reports only the `embedding` capability, so requests to chat never reach it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from server.errors import BadRequest
from server.runtime.engine_types import GenerationStats, Grammar, SamplingOptions

_BATCH = 32
_BATCH_TOKENS = 8192
"""Padded tokens per batch at most (rows times the longest row): memory stays bounded."""


class OnnxEmbedder:
    """A sentence-embedding model in ONNX with a HuggingFace `tokenizer.json`."""

    def __init__(
        self, model_path: Path, tokenizer_path: Path, max_tokens: int, threads: int
    ) -> None:
        self.max_tokens = max_tokens
        self.n_ctx = max_tokens
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(model_path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}

    def interrupt(self) -> None:
        """Nothing to end: an embedding finishes on its own."""

    def close(self) -> None:
        """Drop the session (onnxruntime frees it when unreferenced)."""
        del self.session

    def _cannot_generate(self) -> BadRequest:
        return BadRequest("an ONNX embedding model does not support generate")

    def render_chat(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, template: str
    ) -> str:
        """Not offered: this model only embeds."""
        raise self._cannot_generate()

    def tokenize(self, text: str) -> list[int]:
        """Token ids as the model's tokenizer gives them."""
        return list(self.tokenizer.encode(text).ids)

    def check_grammar(self, grammar: Grammar | None) -> None:
        """Not offered: this model only embeds."""
        raise self._cannot_generate()

    def stream(
        self,
        prompt_tokens: list[int],
        opts: SamplingOptions,
        grammar: Grammar | None,
        cancel: threading.Event,
        stats: GenerationStats,
    ) -> Iterator[str]:
        """Not offered: this model only embeds."""
        raise self._cannot_generate()

    def embed(self, texts: list[str], truncate: bool = True) -> tuple[list[list[float]], int]:
        """Embed texts; return (vectors, total input tokens).

        Each input is tokenized on its own (never padded to the longest of the request), cut
        to the model's context, and batched with inputs of similar length, at most
        `_BATCH_TOKENS` tokens of padded width per batch; the order is restored.
        """
        encoded = [e.ids for e in self.tokenizer.encode_batch(texts)]
        if not truncate:
            for i, tokens in enumerate(encoded):
                if len(tokens) > self.max_tokens:
                    raise BadRequest(
                        f"input {i} has {len(tokens)} tokens, more than the context length "
                        f"{self.max_tokens}; send it shorter or with truncate=true"
                    )
        lengths = [min(len(tokens), self.max_tokens) for tokens in encoded]
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
        vectors: list[list[float]] = [[] for _ in texts]
        total = 0
        start = 0
        while start < len(order):
            end = start + 1  # sorted by length: the last row of a batch sets its width
            while (
                end < len(order)
                and end - start < _BATCH
                and lengths[order[end]] * (end - start + 1) <= _BATCH_TOKENS
            ):
                end += 1
            batch, start = order[start:end], end
            width = max(lengths[i] for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)  # [PAD] is 0
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                seq = encoded[i]
                if len(seq) > width:  # keep [CLS] and the first tokens; end with its [SEP]
                    seq = [*seq[: width - 1], seq[-1]]
                ids[row, : len(seq)] = seq
                mask[row, : len(seq)] = 1
            total += int(mask.sum())
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feed)[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            pooled = pooled / np.clip(norms, 1e-12, None)
            for i, vector in zip(batch, pooled.astype(float).tolist(), strict=True):
                vectors[i] = vector
        return vectors, total
