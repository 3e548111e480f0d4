"""Engine-neutral types: what a request asks of a runner and what a generation reports.

llama.cpp and ONNX runners both take `LoadOptions`; chat runners take `SamplingOptions`
and fill `GenerationStats`. Nothing here knows which engine runs the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LoadOptions:
    """Options fixed when a model is loaded; a request that needs others gets another runner."""

    n_ctx: int
    n_batch: int = 512
    n_threads: int = 2
    embedding: bool = False
    sequences: int = 1
    """Requests the runner decodes together in one context (continuous batching), each with
    up to `n_ctx` cells of one shared KV cache; 1 is one request at a time."""


@dataclass
class SamplingOptions:
    """Per-request sampling options, with Ollama's defaults."""

    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.9
    min_p: float = 0.0
    typical_p: float = 1.0
    seed: int | None = None
    num_predict: int = -1
    stop: list[str] = field(default_factory=list)
    repeat_penalty: float = 1.1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    prompt_lookup_tokens: int = 0
    """Prompt-lookup speculative decoding: draft up to this many tokens per step by finding
    the last few generated tokens earlier in the context (0 turns it off). Greedy output is
    unchanged; it pays off when the answer repeats the prompt, as a rewritten file does."""
    low_priority: bool = False
    """A batch-job line: batched, its prompt is prefilled after every interactive one's."""


@dataclass
class GenerationStats:
    """What the final chunk reports; filled in by the runner as it generates."""

    prompt_eval_count: int = 0
    """Tokens in the prompt, cached or not (Ollama's full-context semantics)."""
    prompt_eval_duration_ns: int = 0
    eval_count: int = 0
    eval_duration_ns: int = 0
    cached_prompt_tokens: int = 0
    """Prompt tokens whose KV state was reused instead of evaluated."""
    prefix: str = ""
    """Where the reused prefix came from: `restored` (a saved KV state from the prefix
    cache), `live` (the context still held it), `shared` (copied from another sequence of
    the batch), `cold` (nothing reused), or empty when the runner keeps no prefix
    (embeddings)."""
    draft_tokens: int = 0
    """Generated tokens that came from accepted prompt-lookup drafts (no decode step of their
    own)."""
    done_reason: str = "stop"


@dataclass(frozen=True)
class Grammar:
    """A GBNF grammar for constrained decoding, enforced from the first token or lazily.

    A lazy grammar waits until the output matches one of `trigger_patterns` (regexes that
    must match at the end of the text so far; the first group marks where the constrained
    text starts) or until one of `trigger_texts` is sampled as a single token. Until then
    the model writes freely.
    """

    gbnf: str
    root: str = "root"
    trigger_patterns: tuple[str, ...] = ()
    trigger_texts: tuple[str, ...] = ()

    @property
    def lazy(self) -> bool:
        """Whether the grammar waits for a trigger."""
        return bool(self.trigger_patterns or self.trigger_texts)
