"""One loaded GGUF model in llama.cpp: prompt rendering, tokenising and streamed decoding.

A runner is used by one request at a time (the scheduler gives each loaded model a
single worker thread), so the llama.cpp context and its KV cache are never shared
between concurrent requests. Consecutive requests that share a prompt prefix (every
agent re-sends its long system prompt) reuse the cached prefix: `Llama.generate`
evaluates only the tokens after the longest common prefix.
"""

from __future__ import annotations

import codecs
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np
from jinja2 import TemplateError
from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter
from llama_cpp.llama_grammar import LlamaGrammar

from server.errors import BadRequest
from server.models.go_template import GoTemplate
from server.models.go_template import render_chat as render_go_chat


@dataclass(frozen=True)
class LoadOptions:
    """Options fixed when a model is loaded; a request that needs others forces a reload."""

    n_ctx: int
    n_batch: int = 512
    n_threads: int = 2
    embedding: bool = False


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


@dataclass
class GenerationStats:
    """What the final chunk reports; filled in by `LlamaRunner.stream`."""

    prompt_eval_count: int = 0
    prompt_eval_duration_ns: int = 0
    eval_count: int = 0
    eval_duration_ns: int = 0
    cached_prompt_tokens: int = 0
    done_reason: str = "stop"


def _stop_holdback(text: str, stops: list[str]) -> int:
    """Length of the longest suffix of `text` that could still grow into a stop string."""
    best = 0
    for stop in stops:
        for k in range(min(len(stop) - 1, len(text)), best, -1):
            if text.endswith(stop[:k]):
                best = k
                break
    return best


class LlamaRunner:
    """A GGUF model loaded in llama.cpp."""

    def __init__(
        self,
        path: Path,
        load: LoadOptions,
        lora_path: Path | None = None,
        template: str = "",
    ) -> None:
        self.path = path
        self.load = load
        kwargs: dict[str, Any] = {}
        if lora_path is not None:
            kwargs["lora_path"] = str(lora_path)
        self.llm = Llama(
            model_path=str(path),
            n_ctx=load.n_ctx,
            n_batch=load.n_batch,
            n_threads=load.n_threads,
            n_threads_batch=load.n_threads,
            embedding=load.embedding,
            verbose=False,
            **kwargs,
        )
        self.n_ctx = self.llm.n_ctx()
        self.chat_template: str = self.llm.metadata.get("tokenizer.chat_template", "")
        self._formatter: Jinja2ChatFormatter | None = None
        # A Modelfile TEMPLATE (Go-template subset) replaces the GGUF's Jinja template.
        self.go_template = GoTemplate(template) if template else None
        self._vocab = self.llm._model.vocab
        self._good_grammars: set[str] = set()

    def close(self) -> None:
        """Free the llama.cpp model and context."""
        self.llm.close()

    # -- prompts ------------------------------------------------------------

    def _token_text(self, token: int) -> str:
        return "" if token == -1 else str(self.llm._model.token_get_text(token))

    @property
    def supports_tools(self) -> bool:
        """Whether the model's chat template renders tool definitions."""
        return self.go_template is None and "tools" in self.chat_template

    def render_chat(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> str:
        """Render messages (and tools) with the model's TEMPLATE or the GGUF's chat template."""
        if self.go_template is not None:
            return render_go_chat(self.go_template, messages)
        if not self.chat_template:
            raise BadRequest("model has no chat template; use /api/generate with raw=true")
        if self._formatter is None:
            self._formatter = Jinja2ChatFormatter(
                template=self.chat_template,
                eos_token=self._token_text(self.llm.token_eos()),
                bos_token=self._token_text(self.llm.token_bos()),
            )
        try:
            # Plain dicts; llama-cpp-python types them as TypedDicts.
            chat: Any = messages
            tool_defs: Any = tools or None
            return self._formatter(messages=chat, tools=tool_defs).prompt
        except TemplateError as exc:
            raise BadRequest(f"chat template error: {exc}") from exc

    def check_grammar(self, grammar: LlamaGrammar | None) -> None:
        """Parse a grammar with llama.cpp now, so one it rejects is a 400, not a crash.

        llama-cpp-python adds a NULL sampler to the chain when parsing fails, which brings
        the whole process down; we parse first and refuse what llama.cpp cannot use.
        """
        if grammar is None or grammar._grammar in self._good_grammars:
            return
        sampler = llama_cpp.llama_sampler_init_grammar(
            self._vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
        )
        if not sampler:
            raise BadRequest(
                "the format schema gives a grammar llama.cpp cannot use (too large or too "
                "deeply nested); simplify it, for example with smaller maxItems"
            )
        llama_cpp.llama_sampler_free(sampler)
        self._good_grammars.add(grammar._grammar)

    def tokenize(self, text: str) -> list[int]:
        """Tokens of a rendered prompt (special tokens parsed, BOS added if the model wants one)."""
        add_bos = self.llm._model.add_bos_token() and not text.startswith(
            self._token_text(self.llm.token_bos()) or "\x00"
        )
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    # -- decoding -----------------------------------------------------------

    def stream(
        self,
        prompt_tokens: list[int],
        opts: SamplingOptions,
        grammar: LlamaGrammar | None,
        cancel: threading.Event,
        stats: GenerationStats,
    ) -> Iterator[str]:
        """Yield text pieces as they are decoded; fill `stats` when done."""
        llm = self.llm
        room = self.n_ctx - len(prompt_tokens)
        if room <= 0:
            raise BadRequest(
                f"prompt of {len(prompt_tokens)} tokens does not fit the context of {self.n_ctx}"
            )
        limit = (
            room
            if opts.num_predict is None or opts.num_predict < 0
            else min(opts.num_predict, room)
        )
        seed = opts.seed if opts.seed is not None and opts.seed >= 0 else random.getrandbits(32)
        llm.set_seed(seed & 0xFFFFFFFF)
        stops = [s for s in opts.stop if s]
        stats.prompt_eval_count = len(prompt_tokens)
        stats.cached_prompt_tokens = (
            llm.longest_token_prefix(llm._input_ids.tolist(), prompt_tokens) if llm.n_tokens else 0
        )
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        start = time.perf_counter_ns()
        first: int | None = None
        produced = 0
        reason = "length"
        if limit == 0:
            stats.done_reason = "length"
            return
        generator = llm.generate(
            prompt_tokens,
            top_k=opts.top_k,
            top_p=opts.top_p,
            min_p=opts.min_p,
            typical_p=opts.typical_p,
            temp=opts.temperature,
            repeat_penalty=opts.repeat_penalty,
            frequency_penalty=opts.frequency_penalty,
            presence_penalty=opts.presence_penalty,
            grammar=grammar,
        )
        try:
            for token in generator:
                if first is None:
                    first = time.perf_counter_ns()
                if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    reason = "stop"
                    break
                produced += 1
                pending += decoder.decode(llm.detokenize([token]))
                hit = min((i for i in (pending.find(s) for s in stops) if i >= 0), default=-1)
                if hit >= 0:
                    pending = pending[:hit]
                    reason = "stop"
                    break
                keep = _stop_holdback(pending, stops) if stops else 0
                emit, pending = pending[: len(pending) - keep], pending[len(pending) - keep :]
                if emit:
                    yield emit
                if produced >= limit:
                    reason = "length"
                    break
                if cancel.is_set():
                    reason = "cancel"
                    break
        finally:
            generator.close()
        tail = pending + decoder.decode(b"", final=True)
        if tail:
            yield tail
        end = time.perf_counter_ns()
        first = first or end
        stats.prompt_eval_duration_ns = first - start
        stats.eval_count = produced
        stats.eval_duration_ns = max(end - first, 1)
        stats.done_reason = reason

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Normalised embeddings of texts (the model must be loaded with `embedding=True`)."""
        for i, text in enumerate(texts):
            if not self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False):
                # llama.cpp cannot decode zero tokens; say so instead of failing inside it.
                raise BadRequest(f"input {i} has no tokens to embed (it is empty)")
        vectors, count = self.llm.embed(texts, normalize=False, truncate=True, return_count=True)
        out = []
        for vec in vectors:
            arr = np.asarray(vec, dtype=np.float64)
            if arr.ndim == 2:  # a causal model has no pooling: llama.cpp returns one row per token
                arr = arr.mean(axis=0)
            arr /= max(float(np.linalg.norm(arr)), 1e-12)
            out.append(arr.tolist())
        return out, int(count)
