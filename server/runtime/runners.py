"""One `Runner` protocol for every engine, and the one place that picks the engine.

A weight format (GGUF for llama.cpp, ONNX for sentence embeddings) is decided once, by
`engine_for`; everything else asks the `Engine` it returns what the model can do, how to
load it, how many slots help, and asks the `Runner` it builds to do the work.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Protocol

from server.config import ServerSettings
from server.errors import BadRequest
from server.models.capabilities import gguf_capabilities, gguf_chat_template
from server.models.gguf_info import model_info
from server.models.manifest import ModelRecord
from server.runtime.engine_llama import LlamaRunner
from server.runtime.engine_onnx import OnnxEmbedder
from server.runtime.engine_types import GenerationStats, Grammar, LoadOptions, SamplingOptions
from server.runtime.options import load_options
from server.runtime.prefix_cache import PrefixCache


class Runner(Protocol):
    """A loaded model. One request uses it at a time, always from the same thread."""

    n_ctx: int

    def interrupt(self) -> None:
        """End the generations in progress with an error, from any thread (close follows)."""

    def close(self) -> None:
        """Free what the model holds (no slot's thread uses it any more)."""

    def embed(self, texts: list[str], truncate: bool) -> tuple[list[list[float]], int]:
        """(normalised vectors, input tokens); long inputs are cut, or refused if not `truncate`."""

    def render_chat(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, template: str
    ) -> str:
        """The prompt for a chat, with a Modelfile TEMPLATE if one is given."""

    def tokenize(self, text: str) -> list[int]:
        """The prompt's tokens."""

    def check_grammar(self, grammar: Grammar | None) -> None:
        """Refuse (400) a grammar the engine cannot use, before generation starts."""

    def stream(
        self,
        prompt_tokens: list[int],
        opts: SamplingOptions,
        grammar: Grammar | None,
        cancel: threading.Event,
        stats: GenerationStats,
    ) -> Iterator[str]:
        """Generate text pieces; fill `stats` when done."""


class Engine(Protocol):
    """How one weight format is served."""

    parallel: bool
    """Whether more than one slot (context) per loaded model can help."""

    def capabilities(self, record: ModelRecord) -> list[str]:
        """What the model can do, in Ollama's vocabulary (`completion`, `tools`, `embedding`)."""

    def chat_template(self, record: ModelRecord) -> str:
        """The prompt template `/api/show` reports."""

    def model_info(self, record: ModelRecord) -> dict[str, Any]:
        """`model_info` for `/api/show`."""

    def weights_problem(self, record: ModelRecord) -> str | None:
        """Why the weights cannot load, or None (reads the file: call it off the event loop)."""

    def load_options(
        self, record: ModelRecord, merged: dict[str, Any], settings: ServerSettings, embed: bool
    ) -> LoadOptions:
        """The load-time options for a request's merged options."""

    def memory(self, record: ModelRecord, load: LoadOptions, contexts: int) -> int:
        """Bytes a runner of `contexts` contexts takes, estimated before loading it.

        The weights, and the KV cache for every cell it may hold. Cheap: a stat, and the
        model's metadata (kept in its config; a cached header read at most).
        """

    def build(
        self, record: ModelRecord, load: LoadOptions, prefix_cache: PrefixCache | None
    ) -> Runner:
        """Load the model (blocking; the scheduler calls it on the slot's own thread)."""


class LlamaEngine:
    """GGUF models in llama.cpp: chat, tools, embeddings, LoRA adapters."""

    parallel = True

    def capabilities(self, record: ModelRecord) -> list[str]:
        """From the architecture and the chat template."""
        return gguf_capabilities(record)

    def chat_template(self, record: ModelRecord) -> str:
        """The TEMPLATE layer, else the GGUF's Jinja template."""
        return gguf_chat_template(record)

    def model_info(self, record: ModelRecord) -> dict[str, Any]:
        """Kept in the config at create time; read from the GGUF for models made elsewhere."""
        return dict(record.config.get("model_info") or model_info(record.weights_file))

    def weights_problem(self, record: ModelRecord) -> str | None:
        """The file must start with GGUF's magic."""
        with record.model_path.open("rb") as f:
            return None if f.read(4) == b"GGUF" else "weights are not GGUF"

    def load_options(
        self, record: ModelRecord, merged: dict[str, Any], settings: ServerSettings, embed: bool
    ) -> LoadOptions:
        """`num_ctx`, `num_batch`, `num_thread` from the options, bounded by the model."""
        train_ctx = int(record.config.get("context_length") or 0)
        return load_options(merged, settings, train_ctx, embedding=embed)

    def memory(self, record: ModelRecord, load: LoadOptions, contexts: int) -> int:
        """The GGUF and its adapter, and `n_ctx` f16 KV cells per sequence or context.

        llama.cpp's compute buffers (tens of MiB) are not counted. The weights are
        memory-mapped, so the whole file counts once it has been read through.
        """
        files = [record.model_path, *record.adapter_paths]
        weights = sum(p.stat().st_size for p in files)
        cells = load.n_ctx * max(load.sequences, contexts, 1)
        return weights + cells * kv_cell_bytes(self.model_info(record))

    def build(
        self, record: ModelRecord, load: LoadOptions, prefix_cache: PrefixCache | None
    ) -> Runner:
        """A `LlamaRunner`, with the record's one LoRA adapter if it has one."""
        adapters = record.adapter_paths
        if len(adapters) > 1:
            raise BadRequest("more than one ADAPTER is not supported by llama.cpp's loader")
        cache = None if load.embedding else prefix_cache
        return LlamaRunner(record.model_path, load, adapters[0] if adapters else None, cache)


class OnnxEngine:
    """Sentence-embedding models in ONNX (all-MiniLM), with their tokenizer layer."""

    parallel = False  # one onnxruntime session already uses every thread it is given

    def capabilities(self, record: ModelRecord) -> list[str]:
        """Embeddings only."""
        return ["embedding"]

    def chat_template(self, record: ModelRecord) -> str:
        """None: the model does not chat."""
        return ""

    def model_info(self, record: ModelRecord) -> dict[str, Any]:
        """What the catalog wrote into the config, under Ollama's key names."""
        cfg = record.config
        arch = str(cfg.get("model_family", "bert"))
        return {
            "general.architecture": arch,
            "general.file_type": cfg.get("file_type", ""),
            f"{arch}.embedding_length": cfg.get("embedding_length"),
            f"{arch}.context_length": cfg.get("context_length"),
            f"{arch}.pooling_type": cfg.get("pooling", "mean"),
        }

    def weights_problem(self, record: ModelRecord) -> str | None:
        """The weights and the tokenizer must be readable."""
        with record.model_path.open("rb") as f:
            f.read(1)
        return None if record.tokenizer_path is not None else "no tokenizer layer"

    def load_options(
        self, record: ModelRecord, merged: dict[str, Any], settings: ServerSettings, embed: bool
    ) -> LoadOptions:
        """The model's own input limit; the options do not change how it loads."""
        n_ctx = int(record.config.get("context_length") or 0) or 512
        return LoadOptions(n_ctx=n_ctx, n_threads=settings.resolved_threads(), embedding=True)

    def memory(self, record: ModelRecord, load: LoadOptions, contexts: int) -> int:
        """The weights file (an embedding model keeps no KV cache)."""
        return record.model_path.stat().st_size

    def build(
        self, record: ModelRecord, load: LoadOptions, prefix_cache: PrefixCache | None
    ) -> Runner:
        """An `OnnxEmbedder`."""
        tokenizer = record.tokenizer_path
        if tokenizer is None:
            raise BadRequest(f"model '{record.name.display}' has no tokenizer layer")
        return OnnxEmbedder(record.model_path, tokenizer, load.n_ctx, load.n_threads)


ENGINES: dict[str, Engine] = {"gguf": LlamaEngine(), "onnx": OnnxEngine()}


def kv_cell_bytes(info: dict[str, Any]) -> int:
    """Bytes of one f16 KV cell: a key and a value vector per layer and KV head.

    28 KiB on qwen2.5 1.5B (28 layers, 2 KV heads of 128), 12 KiB on the 0.5B. Unknown
    metadata counts as 0 (the weights still count).
    """
    arch = str(info.get("general.architecture") or "")
    layers = int(info.get(f"{arch}.block_count") or 0)
    heads = int(info.get(f"{arch}.attention.head_count") or 0)
    kv_heads = int(info.get(f"{arch}.attention.head_count_kv") or heads)
    width = int(info.get(f"{arch}.embedding_length") or 0)
    per_head = width // heads if heads else 0
    key = int(info.get(f"{arch}.attention.key_length") or per_head)
    value = int(info.get(f"{arch}.attention.value_length") or per_head)
    return 2 * layers * kv_heads * (key + value)


def engine_for(record: ModelRecord) -> Engine:
    """The engine for a model's weight format."""
    engine = ENGINES.get(record.format)
    if engine is None:
        raise BadRequest(f"model '{record.name.display}' has an unsupported format")
    return engine
