"""Chat, generate and embed: the logic both the Ollama and the OpenAI routes share.

Routes translate wire formats; this module checks the request against the model,
builds the prompt (system prompt, history, tools, context-overflow policy), asks the
scheduler for the model, and streams internal events: `Ready`, then `Text` pieces,
then one `Final`. Anything wrong is raised before `Ready`, so it can still become
an HTTP status rather than an error line mid-stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from server.config import ServerSettings
from server.errors import BadRequest, RequestTimeout
from server.models.capabilities import capabilities
from server.models.manifest import ModelRecord
from server.models.store import ModelStore
from server.runtime.engine_llama import GenerationStats, LlamaRunner, LoadOptions
from server.runtime.json_grammar import grammar_for
from server.runtime.options import load_options, merge_options, parse_duration, sampling_options
from server.runtime.response_cache import CachedAnswer, ResponseCache, is_deterministic
from server.runtime.scheduler import Scheduler, Slot
from server.runtime.tool_calls import may_be_tool_call, parse_tool_calls


@dataclass
class Ready:
    """The model is loaded and the prompt fits: streaming can begin."""


@dataclass
class Text:
    """A piece of generated text."""

    text: str


@dataclass
class Final:
    """The end of a generation, with Ollama's counters (durations in ns)."""

    done_reason: str
    content: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    stats: GenerationStats = field(default_factory=GenerationStats)
    load_duration_ns: int = 0
    total_duration_ns: int = 0
    cached: bool = False


Event = Ready | Text | Final


@dataclass
class Embeddings:
    """The result of an embedding request."""

    vectors: list[list[float]]
    prompt_tokens: int
    load_duration_ns: int
    total_duration_ns: int


@dataclass
class ChatJob:
    """A normalised chat or generate request."""

    model: str
    messages: list[dict[str, Any]] | None = None
    prompt: str | None = None
    raw: bool = False
    tools: list[dict[str, Any]] | None = None
    format: str | dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    keep_alive: Any = None
    images: bool = False
    think: Any = None
    suffix: str | None = None
    system: str | None = None


class InferenceService:
    """Runs requests against the store's models through the scheduler."""

    def __init__(
        self,
        settings: ServerSettings,
        store: ModelStore,
        scheduler: Scheduler,
        cache: ResponseCache | None = None,
        on_cache: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.scheduler = scheduler
        self.cache = cache
        self.on_cache = on_cache or (lambda model, hit: None)

    def keep_alive(self, value: Any) -> float | None:
        """A request's keep_alive, or the server default."""
        return parse_duration(self.settings.keep_alive if value is None else value)

    def _check(self, record: ModelRecord, job: ChatJob) -> None:
        caps = capabilities(record)
        name = record.name.display
        if "completion" not in caps:
            raise BadRequest(f'"{name}" does not support generate')
        if job.tools and "tools" not in caps:
            raise BadRequest(f"registry.ollama.ai/library/{name} does not support tools")
        if job.images:
            raise BadRequest(f'"{name}" does not support image input')
        if job.think not in (None, False):
            raise BadRequest(f'"{name}" does not support thinking')
        if job.suffix:
            raise BadRequest(f'"{name}" does not support insert')

    def _messages(self, record: ModelRecord, request: list[dict[str, Any]]) -> list[dict[str, Any]]:
        msgs = [dict(m) for m in request]
        history = [dict(m) for m in record.messages]
        if record.system and not any(m["role"] == "system" for m in msgs):
            history.insert(0, {"role": "system", "content": record.system})
        return history + msgs

    def _fit_chat(
        self, runner: LlamaRunner, msgs: list[dict[str, Any]], tools: Any, reserve: int
    ) -> list[int]:
        """Render and tokenise, dropping the oldest history until the prompt fits."""
        msgs = list(msgs)
        while True:
            tokens = runner.tokenize(runner.render_chat(msgs, tools))
            if len(tokens) + reserve <= runner.n_ctx:
                return tokens
            if self.settings.truncate == "error":
                raise BadRequest(
                    f"the prompt is {len(tokens)} tokens and does not fit the context window "
                    f"of {runner.n_ctx} tokens (with {reserve} reserved for the answer); "
                    "raise num_ctx or shorten the input"
                )
            droppable = [i for i, m in enumerate(msgs[:-1]) if m["role"] != "system"]
            if not droppable:
                raise BadRequest(
                    f"the prompt is {len(tokens)} tokens; even with the history dropped it does "
                    f"not fit the context window of {runner.n_ctx} tokens"
                )
            del msgs[droppable[0]]

    def _fit_raw(self, runner: LlamaRunner, text: str, reserve: int) -> list[int]:
        tokens = runner.tokenize(text)
        room = runner.n_ctx - reserve
        if len(tokens) <= room:
            return tokens
        if self.settings.truncate == "error":
            raise BadRequest(
                f"the prompt is {len(tokens)} tokens and does not fit the context window of "
                f"{runner.n_ctx} tokens; raise num_ctx or shorten the input"
            )
        return tokens[len(tokens) - room :]

    def _prompt_tokens(
        self, slot: Slot, record: ModelRecord, job: ChatJob, reserve: int
    ) -> list[int]:
        runner = slot.runner
        assert isinstance(runner, LlamaRunner)
        if job.raw:
            return self._fit_raw(runner, job.prompt or "", reserve)
        msgs = job.messages
        if msgs is None:
            msgs = [{"role": "user", "content": job.prompt or ""}]
            if job.system:
                msgs.insert(0, {"role": "system", "content": job.system})
        return self._fit_chat(runner, self._messages(record, msgs), job.tools, reserve)

    async def run(self, job: ChatJob) -> AsyncIterator[Event]:
        """Stream a chat or generate job: `Ready`, `Text`…, `Final`."""
        start = time.perf_counter_ns()
        record = self.store.get(job.model)
        self._check(record, job)
        keep_alive = self.keep_alive(job.keep_alive)
        merged = merge_options(record.parameters, job.options)
        opts = sampling_options(merged, self.settings)
        load = load_options(merged, self.settings, int(record.config.get("context_length") or 0))
        grammar = grammar_for(job.format)
        empty = (job.messages is not None and not job.messages) or (
            job.messages is None and not job.prompt
        )
        cache_key = None
        if self.cache is not None and not empty and is_deterministic(merged):
            request = {
                "messages": job.messages,
                "prompt": job.prompt,
                "raw": job.raw,
                "system": job.system,
                "tools": job.tools,
                "format": job.format,
                "options": merged,
            }
            cache_key = self.cache.fingerprint(record.digest, request)
            hit = await asyncio.to_thread(self.cache.get, cache_key)
            self.on_cache(record.name.display, hit is not None)
            if hit is not None:
                yield Ready()
                for piece in hit.pieces:
                    yield Text(piece)
                yield Final(
                    done_reason=hit.done_reason,
                    content=hit.content,
                    tool_calls=hit.tool_calls,
                    stats=GenerationStats(**hit.stats),
                    cached=True,
                    total_duration_ns=time.perf_counter_ns() - start,
                )
                return
        if empty and keep_alive == 0:
            await self.scheduler.unload(record.name.display)
            yield Ready()
            yield Final(done_reason="unload", total_duration_ns=time.perf_counter_ns() - start)
            return
        async with self.scheduler.use(record, load, keep_alive) as (slot, load_ns):
            if empty:
                yield Ready()
                yield Final(
                    done_reason="load",
                    load_duration_ns=load_ns,
                    total_duration_ns=time.perf_counter_ns() - start,
                )
                return
            n_ctx = load.n_ctx
            reserve = min(opts.num_predict if opts.num_predict > 0 else n_ctx // 8, n_ctx // 2)
            tokens = await slot.run(self._prompt_tokens, slot, record, job, reserve)
            runner = slot.runner
            assert isinstance(runner, LlamaRunner)
            await slot.run(runner.check_grammar, grammar)
            yield Ready()
            stats = GenerationStats()
            runner = slot.runner
            assert isinstance(runner, LlamaRunner)
            pieces = slot.stream(lambda cancel: runner.stream(tokens, opts, grammar, cancel, stats))
            names = {str(t.get("function", {}).get("name", "")) for t in job.tools or []}
            content: list[str] = []
            sent: list[str] = []
            holding = bool(job.tools)
            deadline = time.monotonic() + self.settings.request_timeout
            async for piece in pieces:
                if time.monotonic() > deadline:
                    await pieces.aclose()  # type: ignore[attr-defined]
                    raise RequestTimeout(
                        f"generation ran past the request timeout of "
                        f"{self.settings.request_timeout:.0f}s (TERRAQORE_REQUEST_TIMEOUT)"
                    )
                content.append(piece)
                if holding and may_be_tool_call("".join(content)):
                    continue
                sent.append("".join(content) if holding else piece)
                holding = False
                yield Text(sent[-1])
            full = "".join(content)
            calls: list[dict[str, Any]] = []
            if job.tools:
                rest, calls = parse_tool_calls(full, names)
                if holding and rest:
                    sent.append(rest)
                    yield Text(rest)
                full = rest if calls else full
            final = Final(
                done_reason=stats.done_reason,
                content=full,
                tool_calls=calls,
                stats=stats,
                load_duration_ns=load_ns,
                total_duration_ns=time.perf_counter_ns() - start,
            )
            if cache_key is not None and self.cache is not None and final.done_reason != "cancel":
                answer = CachedAnswer(sent, full, calls, final.done_reason, asdict(stats))
                await asyncio.to_thread(self.cache.put, cache_key, answer)
            yield final

    async def embed(
        self,
        model_name: str,
        texts: list[str],
        truncate: bool = True,
        dimensions: int | None = None,
        options: dict[str, Any] | None = None,
        keep_alive: Any = None,
    ) -> Embeddings:
        """Embed texts with an embedding model (ONNX or GGUF)."""
        start = time.perf_counter_ns()
        record = self.store.get(model_name)
        if "embedding" not in capabilities(record) and record.format != "gguf":
            raise BadRequest(f'"{record.name.display}" does not support embeddings')
        ka = self.keep_alive(keep_alive)
        merged = merge_options(record.parameters, options)
        ctx = int(record.config.get("context_length") or 0)
        if record.format == "onnx":
            load = LoadOptions(
                n_ctx=ctx or 512, n_threads=self.settings.resolved_threads(), embedding=True
            )
        else:
            load = load_options(merged, self.settings, ctx, embedding=True)
        if dimensions is not None and dimensions < 1:
            raise BadRequest("dimensions must be a positive integer")
        async with self.scheduler.use(record, load, ka) as (slot, load_ns):
            if not texts:
                return Embeddings([], 0, load_ns, time.perf_counter_ns() - start)
            runner = slot.runner
            if isinstance(runner, LlamaRunner):
                vectors, count = await slot.run(runner.embed, texts)
            else:
                vectors, count = await slot.run(runner.embed, texts, truncate)
        if dimensions is not None:
            if dimensions > len(vectors[0]):
                raise BadRequest(
                    f"dimensions {dimensions} exceeds the model's {len(vectors[0])} dimensions"
                )
            arr = np.asarray(vectors, dtype=np.float64)[:, :dimensions]
            arr /= np.clip(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12, None)
            vectors = arr.tolist()
        return Embeddings(vectors, count, load_ns, time.perf_counter_ns() - start)
