"""A fake engine behind the runner factory seam, for fast scheduler and inference tests.

It loads nothing: `build` returns a runner that tokenises by characters and streams one
piece every `piece_seconds` until cancelled or `pieces` are out. Loads can be held open
with a gate, and every build is counted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

from server.config import ServerSettings
from server.errors import ServiceUnavailable
from server.models.manifest import (
    MEDIA_CONFIG,
    MEDIA_MODEL,
    MEDIA_SYSTEM,
    Manifest,
    ModelName,
    ModelRecord,
)
from server.models.store import ModelStore
from server.runtime.engine_types import GenerationStats, Grammar, LoadOptions, SamplingOptions
from server.runtime.prefix_cache import PrefixCache


class FakeRunner:
    """Streams `pieces` pieces of text, one every `piece_seconds`."""

    def __init__(self, weights: tuple[str, ...], pieces: int, piece_seconds: float) -> None:
        self.weights = weights
        self.n_ctx = 2048
        self.pieces = pieces
        self.piece_seconds = piece_seconds
        self.closed = False
        self.stopped = False
        """Whether a stream ended on its cancel event."""
        self.interrupted = threading.Event()
        """Set by `interrupt`: streams end with an error, as a batch decoder's sequences do."""
        self.used_after_close = False
        """Whether a stream went on after `close` (a use after free in a real runner)."""

    def interrupt(self) -> None:
        self.interrupted.set()

    def close(self) -> None:
        self.closed = True

    def embed(self, texts: list[str], truncate: bool) -> tuple[list[list[float]], int]:
        return [[1.0, 0.0] for _ in texts], sum(len(t) for t in texts)

    def render_chat(self, messages: list[dict[str, Any]], tools: Any, template: str) -> str:
        return "".join(f"{m['role']}: {m['content']}\n" for m in messages)

    def tokenize(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def check_grammar(self, grammar: Grammar | None) -> None:
        pass

    def stream(
        self,
        prompt_tokens: list[int],
        opts: SamplingOptions,
        grammar: Grammar | None,
        cancel: threading.Event,
        stats: GenerationStats,
    ) -> Iterator[str]:
        stats.prompt_eval_count = len(prompt_tokens)
        for _ in range(opts.num_predict if opts.num_predict > 0 else self.pieces):
            if self.closed:
                self.used_after_close = True
            if self.interrupted.is_set():
                raise ServiceUnavailable("the model is unloading; retry")
            if cancel.wait(self.piece_seconds):
                stats.done_reason = "cancel"
                self.stopped = True
                return
            stats.eval_count += 1
            yield "x"


class FakeEngine:
    """Builds `FakeRunner`s; `gates[weights digest]` holds that model's load until set."""

    parallel = True

    def __init__(self, pieces: int = 3, piece_seconds: float = 0.01) -> None:
        self.pieces = pieces
        self.piece_seconds = piece_seconds
        self.builds: list[tuple[str, ...]] = []
        self.gates: dict[str, threading.Event] = {}
        self.build_threads: list[str] = []
        self.capability_threads: list[str] = []
        self.memory_mb: dict[str, int] = {}
        """MiB a model (by name) takes per context or sequence; 0 if not given."""

    def capabilities(self, record: ModelRecord) -> list[str]:
        self.capability_threads.append(threading.current_thread().name)
        return ["completion"]

    def chat_template(self, record: ModelRecord) -> str:
        return ""

    def model_info(self, record: ModelRecord) -> dict[str, Any]:
        return {}

    def weights_problem(self, record: ModelRecord) -> str | None:
        return None

    def load_options(
        self, record: ModelRecord, merged: dict[str, Any], settings: ServerSettings, embed: bool
    ) -> LoadOptions:
        batched = settings.batched and not embed
        sequences = max(1, settings.num_parallel) if batched else 1
        return LoadOptions(
            n_ctx=int(merged.get("num_ctx") or 2048), embedding=embed, sequences=sequences
        )

    def memory(self, record: ModelRecord, load: LoadOptions, contexts: int) -> int:
        per = self.memory_mb.get(record.name.model, 0) << 20
        return per * max(load.sequences, contexts, 1)

    def build(
        self, record: ModelRecord, load: LoadOptions, prefix_cache: PrefixCache | None
    ) -> FakeRunner:
        self.build_threads.append(threading.current_thread().name)
        gate = self.gates.get(record.weights_digests[0])
        if gate is not None and not gate.wait(30):
            raise RuntimeError("gate never opened")
        self.builds.append(record.weights_digests)
        return FakeRunner(record.weights_digests, self.pieces, self.piece_seconds)


def register(store: ModelStore, name: str, weights: bytes, system: str = "") -> ModelRecord:
    """A model whose 'weights' are the given bytes (never loaded by a real engine)."""
    layer = store.add_blob_bytes(weights)
    layer.mediaType = MEDIA_MODEL
    layers = [layer]
    if system:
        text = store.add_blob_bytes(system.encode())
        text.mediaType = MEDIA_SYSTEM
        layers.append(text)
    config = store.add_blob_bytes(json.dumps({"model_format": "gguf"}).encode())
    config.mediaType = MEDIA_CONFIG
    store.write_manifest(ModelName.parse(name), Manifest(config=config, layers=layers))
    return store.get(name)


def settings(tmp_path: Any, **values: Any) -> ServerSettings:
    """Server settings in a temporary home, with test-friendly defaults."""
    return ServerSettings(home=tmp_path, register_installed=False, audit=False, **values)


def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    """Poll (in a thread that may block) until `predicate()` is true."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)
