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


class OnnxEmbedder:
    """A sentence-embedding model in ONNX with a HuggingFace `tokenizer.json`."""

    def __init__(
        self, model_path: Path, tokenizer_path: Path, max_tokens: int, threads: int
    ) -> None:
        self.max_tokens = max_tokens
        self.n_ctx = max_tokens
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.no_truncation()
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(model_path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}

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
        """Embed texts; return (vectors, total input tokens)."""
        # Batches of similar lengths waste little compute on padding; the order is restored.
        # (The tokenizer pads right, so a batch keeps only its own longest row's width.)
        encoded = self.tokenizer.encode_batch(texts)
        real = [sum(e.attention_mask) for e in encoded]
        order = sorted(range(len(texts)), key=lambda i: real[i])
        vectors: list[list[float]] = [[] for _ in texts]
        total = 0
        for start in range(0, len(texts), _BATCH):
            batch = order[start : start + _BATCH]
            width = max(real[i] for i in batch)
            ids = np.array([encoded[i].ids[:width] for i in batch], dtype=np.int64)
            mask = np.array([encoded[i].attention_mask[:width] for i in batch], dtype=np.int64)
            lengths = mask.sum(axis=1)
            if ids.shape[1] > self.max_tokens:
                if not truncate:
                    longest = int(lengths.max())
                    raise BadRequest(
                        f"input length {longest} exceeds the context length {self.max_tokens}"
                    )
                # Keep [CLS] + the first tokens, and end every truncated row with its [SEP].
                sep = ids[np.arange(len(ids)), lengths - 1].copy()
                ids, mask = ids[:, : self.max_tokens], mask[:, : self.max_tokens]
                cut = lengths > self.max_tokens
                ids[cut, -1] = sep[cut]
                lengths = mask.sum(axis=1)
            total += int(lengths.sum())
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
