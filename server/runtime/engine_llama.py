"""One loaded GGUF model in llama.cpp: prompt rendering, tokenising and streamed decoding.

A runner loaded with one sequence (`LoadOptions.sequences`) is used by one request at a
time (its slot has a single worker thread). Consecutive requests that share a prompt prefix
reuse it: `Llama.generate` evaluates only the tokens after the longest common prefix, and
the prefix cache brings back the KV state of prompts the context has since let go (another
agent's turn came in between).

A runner loaded with several sequences is shared by that many requests at once: they decode
together in one context (`llama_batch.BatchDecoder`), each with its own sampler, grammar,
stop strings and limits. Text is made from tokens on each request's own thread.
"""

from __future__ import annotations

import codecs
import queue
import random
import threading
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import llama_cpp
import numpy as np
from jinja2 import TemplateError
from llama_cpp.llama_chat_format import Jinja2ChatFormatter
from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

from server.errors import BadRequest, ServiceUnavailable
from server.models.go_template import GoTemplate
from server.models.go_template import render_chat as render_go_chat
from server.runtime.engine_types import GenerationStats, Grammar, LoadOptions, SamplingOptions
from server.runtime.llama_batch import BatchDecoder, Failed, Finished, SeqJob, Started, Token
from server.runtime.llama_batch import sampler_options as chain_options
from server.runtime.llama_model import ServerLlama
from server.runtime.prefix_cache import (
    MIN_PREFIX_TOKENS,
    MIN_RESTORE_TOKENS,
    PrefixCache,
    SavedState,
    common_prefix,
)


def _stop_holdback(text: str, stops: list[str]) -> int:
    """Length of the longest suffix of `text` that could still grow into a stop string."""
    best = 0
    for stop in stops:
        for k in range(min(len(stop) - 1, len(text)), best, -1):
            if text.endswith(stop[:k]):
                best = k
                break
    return best


class _Text:
    """Tokens to text for one generation: utf-8 decoded incrementally, stop strings held back."""

    def __init__(self, llm: ServerLlama, stops: list[str]) -> None:
        self.llm = llm
        self.stops = [s for s in stops if s]
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.pending = ""
        self.stopped = False
        """A stop string was found (the text before it is all that is emitted)."""

    def push(self, token: int) -> str:
        """The text that may be emitted now that `token` came."""
        self.pending += self.decoder.decode(self.llm.detokenize([token]))
        found = (i for i in (self.pending.find(s) for s in self.stops) if i >= 0)
        hit = min(found, default=-1)
        if hit >= 0:
            self.pending = self.pending[:hit]
            self.stopped = True
            return ""
        keep = _stop_holdback(self.pending, self.stops) if self.stops else 0
        emit = self.pending[: len(self.pending) - keep]
        self.pending = self.pending[len(self.pending) - keep :]
        return emit

    def tail(self) -> str:
        """What is left held back at the end."""
        return self.pending + self.decoder.decode(b"", final=True)


def _close_stats(
    stats: GenerationStats, start: int, first: int | None, produced: int, drafted: int, reason: str
) -> None:
    """A generation's timings and counts, once it ended (times from `perf_counter_ns`)."""
    end = time.perf_counter_ns()
    first = first or end
    stats.prompt_eval_duration_ns = first - start
    stats.eval_count = produced
    # Drafts the decoder took past a stop string were never produced: they do not count.
    stats.draft_tokens = min(drafted, produced)
    stats.eval_duration_ns = max(end - first, 1)
    stats.done_reason = reason


_GOOD_GRAMMARS = 256
"""Grammars a runner remembers as parsed (freed with the runner when it unloads)."""
_DECODER_CHECK = 1.0
"""Seconds between checks that the batch decoder still runs, while a request waits on it."""


@lru_cache(maxsize=64)
def _go_template(text: str) -> GoTemplate:
    return GoTemplate(text)


class LlamaRunner:
    """A GGUF model loaded in llama.cpp."""

    def __init__(
        self,
        path: Path,
        load: LoadOptions,
        lora_path: Path | None = None,
        prefix_cache: PrefixCache | None = None,
    ) -> None:
        self.path = path
        self.load = load
        kwargs: dict[str, Any] = {}
        if lora_path is not None:
            kwargs["lora_path"] = str(lora_path)
        self.sequences = max(1, load.sequences)
        self.llm = ServerLlama(
            model_path=str(path),
            sequences=self.sequences,
            # Batched, the sequences share one unified KV cache of `n_ctx` cells each.
            n_ctx=load.n_ctx * self.sequences,
            n_batch=load.n_batch,
            n_threads=load.n_threads,
            n_threads_batch=load.n_threads,
            embedding=load.embedding,
            verbose=False,
            **kwargs,
        )
        self.n_ctx = load.n_ctx if self.sequences > 1 else self.llm.n_ctx()
        """The context one request may use."""
        self.prefix_cache = prefix_cache
        self.decoder: BatchDecoder | None = None
        if self.sequences > 1 and not load.embedding:
            # A cache of 0 bytes (TERRAQORE_PREFIX_CACHE_MB=0) keeps nothing: finished
            # sequences' cells then stay in the context instead, for a prompt that shares them.
            kept = (
                prefix_cache
                if prefix_cache is not None and prefix_cache.capacity_bytes > 0
                else None
            )
            self.decoder = BatchDecoder(self.llm, self.sequences, kept)
        self.chat_template: str = self.llm.metadata.get("tokenizer.chat_template", "")
        self._formatter: Jinja2ChatFormatter | None = None
        self._vocab = self.llm._model.vocab
        self._good_grammars: set[Grammar] = set()

    def interrupt(self) -> None:
        """End the batch's sequences with an error (an unbatched stream ends on its own)."""
        if self.decoder is not None:
            self.decoder.close()

    def close(self) -> None:
        """Free the llama.cpp model and context (idempotent: a batched runner's slots share it)."""
        self.interrupt()
        self.llm.close()

    # -- prompts ------------------------------------------------------------

    def _token_text(self, token: int) -> str:
        return "" if token == -1 else str(self.llm._model.token_get_text(token))

    def render_chat(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, template: str
    ) -> str:
        """Render messages (and tools) with a Modelfile TEMPLATE, else the GGUF's chat template.

        The TEMPLATE comes with each request: model names that share this runner may each
        have their own.
        """
        if template:
            return render_go_chat(_go_template(template), messages)
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

    def check_grammar(self, grammar: Grammar | None) -> None:
        """Parse a grammar with llama.cpp now, so one it rejects is a 400, not a crash.

        llama-cpp-python adds a NULL sampler to the chain when parsing fails, which brings
        the whole process down; we parse first and refuse what llama.cpp cannot use.
        """
        if grammar is None or grammar in self._good_grammars:
            return
        sampler = self.llm.grammar_sampler(grammar)
        if not sampler:
            raise BadRequest(
                "the format schema or the tools give a grammar llama.cpp cannot use (too large "
                "or too deeply nested); simplify it, for example with smaller maxItems"
            )
        llama_cpp.llama_sampler_free(sampler)
        if len(self._good_grammars) >= _GOOD_GRAMMARS:
            self._good_grammars.clear()  # bounded; re-parsing a grammar costs milliseconds
        self._good_grammars.add(grammar)

    def tokenize(self, text: str) -> list[int]:
        """Tokens of a rendered prompt (special tokens parsed, BOS added if the model wants one)."""
        add_bos = self.llm._model.add_bos_token() and not text.startswith(
            self._token_text(self.llm.token_bos()) or "\x00"
        )
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    # -- decoding -----------------------------------------------------------

    def _warm_prefix(self, prompt: list[int], stats: GenerationStats) -> None:
        """Restore the cached KV state that shares most of the prompt, if it beats the context's."""
        held = self.llm.held_tokens()
        live = common_prefix(held, np.asarray(prompt, dtype=np.intc)) if len(held) else 0
        stats.prefix = "live" if live >= MIN_RESTORE_TOKENS else "cold"
        if self.prefix_cache is not None:
            saved, shared = self.prefix_cache.lookup(prompt, have=live)
            if saved is not None and shared > live:
                restored = self.llm.restore_sequence(saved.tokens, saved.state)
                live = shared if restored else 0
                stats.prefix = "restored" if restored else "cold"
        # `generate` replays the last prompt token when the whole prompt is cached.
        stats.cached_prompt_tokens = max(0, min(live, len(prompt) - 1))

    def _save_prefix(self, prompt_len: int) -> None:
        if self.prefix_cache is not None and self.llm.n_tokens >= MIN_PREFIX_TOKENS:
            tokens = self.llm.held_tokens()
            self.prefix_cache.store(SavedState(tokens, self.llm.save_sequence(), prompt_len))

    def stream(
        self,
        prompt_tokens: list[int],
        opts: SamplingOptions,
        grammar: Grammar | None,
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
        limit = room if opts.num_predict < 0 else min(opts.num_predict, room)
        seed = opts.seed if opts.seed is not None and opts.seed >= 0 else random.getrandbits(32)
        stats.prompt_eval_count = len(prompt_tokens)
        if limit == 0:
            stats.done_reason = "length"
            return
        if self.decoder is not None:
            job = self._job(prompt_tokens, opts, grammar, cancel, limit, seed)
            yield from self._stream_batched(job, opts, stats)
            return
        llm.set_seed(seed & 0xFFFFFFFF)
        text = _Text(llm, opts.stop)
        start = time.perf_counter_ns()
        self._warm_prefix(prompt_tokens, stats)
        lookup = max(0, opts.prompt_lookup_tokens)
        llm.draft_model = LlamaPromptLookupDecoding(num_pred_tokens=lookup) if lookup else None
        llm.draft_limit = lookup
        steps = llm.decode_steps
        first: int | None = None
        produced = 0
        reason = "length"
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
            grammar=cast(Any, grammar),  # ServerLlama's sampler takes our Grammar
        )
        try:
            for token in generator:
                if first is None:
                    first = time.perf_counter_ns()
                if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    reason = "stop"
                    break
                produced += 1
                emit = text.push(token)
                if text.stopped:
                    reason = "stop"
                    break
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
            llm.draft_model = None
            self._save_prefix(len(prompt_tokens))
        if tail := text.tail():
            yield tail
        # One decode step for the prompt, then one per generated token that was not drafted.
        drafted = max(0, produced - (llm.decode_steps - steps))
        _close_stats(stats, start, first, produced, drafted, reason)

    def _job(
        self,
        prompt_tokens: list[int],
        opts: SamplingOptions,
        grammar: Grammar | None,
        cancel: threading.Event,
        limit: int,
        seed: int,
    ) -> SeqJob:
        """A generation as a sequence of the batch, with a sampler chain of its own."""
        sampler = self.llm._init_sampler(
            **chain_options(opts), grammar=grammar, seed=seed & 0xFFFFFFFF
        )
        lookup = min(max(0, opts.prompt_lookup_tokens), limit)
        return SeqJob(prompt_tokens, sampler, limit, lookup, cancel, low_priority=opts.low_priority)

    def _stream_batched(
        self, job: SeqJob, opts: SamplingOptions, stats: GenerationStats
    ) -> Iterator[str]:
        """`stream` as one sequence of the runner's batch."""
        assert self.decoder is not None
        text = _Text(self.llm, opts.stop)
        start = time.perf_counter_ns()
        first: int | None = None
        produced, reason = 0, "length"
        self.decoder.submit(job)
        try:
            while True:
                try:
                    event = job.events.get(timeout=_DECODER_CHECK)
                except queue.Empty:
                    if not self.decoder.running():
                        raise ServiceUnavailable("the model's decoder stopped; retry") from None
                    continue
                if isinstance(event, Token):
                    first = first or time.perf_counter_ns()
                    produced += 1
                    emit = text.push(event.token)
                    if text.stopped:
                        reason = "stop"
                        break
                    if emit:
                        yield emit
                elif isinstance(event, Started):
                    stats.cached_prompt_tokens, stats.prefix = event.cached_tokens, event.prefix
                elif isinstance(event, Finished):
                    reason = event.reason
                    break
                elif isinstance(event, Failed):
                    raise event.error
        finally:
            job.stopped = True  # it leaves the batch at the next step if it is still in
        if tail := text.tail():
            yield tail
        _close_stats(stats, start, first, produced, job.drafted, reason)

    def embed(self, texts: list[str], truncate: bool = True) -> tuple[list[list[float]], int]:
        """Normalised embeddings of texts (the model must be loaded with `embedding=True`)."""
        limit = self.llm.n_batch  # llama.cpp embeds one batch per input
        for i, text in enumerate(texts):
            data = text.encode("utf-8")
            if not self.llm.tokenize(data, add_bos=False, special=False):
                # llama.cpp cannot decode zero tokens; say so instead of failing inside it.
                raise BadRequest(f"input {i} has no tokens to embed (it is empty)")
            length = len(self.llm.tokenize(data, add_bos=True, special=False))
            if length > limit and not truncate:
                raise BadRequest(f"input length {length} exceeds the context length {limit}")
        out, count = [], 0
        for text in texts:
            # One input at a time (llama.cpp decodes them one by one here anyway): a causal
            # model has no pooling, and llama-cpp-python returns its rows as Python lists, one
            # per token; all of a request's at once took gigabytes for a few hundred inputs.
            vec, tokens = self.llm.embed(text, normalize=False, truncate=True, return_count=True)
            arr = np.asarray(vec, dtype=np.float64)
            if arr.ndim == 2:  # one row per token: mean-pooled
                arr = arr.mean(axis=0)
            arr /= max(float(np.linalg.norm(arr)), 1e-12)
            out.append(arr.tolist())
            count += int(tokens)
        return out, count
