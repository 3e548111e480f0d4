"""Chat, generate and embed: the logic both the Ollama and the OpenAI routes share.

Routes translate wire formats; this module checks the request against the model,
builds the prompt (system prompt, history, tools, context-overflow policy), asks the
scheduler for the model, and streams internal events: `Ready`, then `Text` pieces,
then one `Final`. Anything wrong is raised before `Ready`, so it can still become
an HTTP status rather than an error line mid-stream.

A request runs as a list of named steps (`run`): plan it, look it up in the response
cache, load only (an empty prompt), fit the prompt, generate with tool-call hold-back,
write the cache. Its time budget starts at arrival and covers all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from server.config import ServerSettings
from server.errors import BadRequest, RequestTimeout
from server.models.manifest import ModelRecord
from server.models.store import ModelStore
from server.runtime.engine_types import GenerationStats, Grammar, LoadOptions, SamplingOptions
from server.runtime.json_grammar import grammar_for
from server.runtime.options import merge_options, parse_duration, sampling_options
from server.runtime.prompts import ChatJob, fit_prompt
from server.runtime.response_cache import CachedAnswer, ResponseCache, is_deterministic
from server.runtime.scheduler import Scheduler
from server.runtime.slots import Slot
from server.runtime.tool_calls import call_start, parse_tool_calls
from server.runtime.tool_grammar import tool_call_grammar

MAX_EMBED_INPUTS = 2048
"""Inputs one embedding request may hold (OpenAI's limit for `/v1/embeddings`)."""


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
class _Plan:
    """Everything decided about a chat job before the model is touched."""

    job: ChatJob
    record: ModelRecord
    keep_alive: float | None
    merged: dict[str, Any]
    opts: SamplingOptions
    load: LoadOptions
    grammar: Grammar | None
    start_ns: int
    deadline: float
    """Event-loop time by which the request must be done (arrival + request_timeout)."""
    cache_key: str | None = None

    @property
    def empty(self) -> bool:
        """No prompt at all: the request only loads (or unloads) the model."""
        job = self.job
        return (job.messages is not None and not job.messages) or (
            job.messages is None and not job.prompt
        )

    @property
    def tool_names(self) -> set[str]:
        """Names of the request's tools."""
        return {str(t.get("function", {}).get("name", "")) for t in self.job.tools or []}

    def elapsed_ns(self) -> int:
        """Nanoseconds since the request arrived."""
        return time.perf_counter_ns() - self.start_ns


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

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.settings.request_timeout

    def resolve_now(self, name: str) -> tuple[ModelRecord, list[str]]:
        """A model's record (text layers read) and capabilities. Reads the disk: not on the loop."""
        record = self.store.get(name)
        record.read_text_layers()
        return record, self.scheduler.engine(record).capabilities(record)

    async def resolve(self, name: str) -> tuple[ModelRecord, list[str]]:
        """A model's record (text layers read) and capabilities, read off the event loop."""
        return await asyncio.to_thread(self.resolve_now, name)

    @staticmethod
    def _check(record: ModelRecord, caps: list[str], job: ChatJob) -> None:
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

    # -- the steps of a chat or generate request ------------------------------

    async def _plan(self, job: ChatJob, start_ns: int, deadline: float) -> _Plan:
        """Resolve the model, check the request against it, and settle every option."""
        record, caps = await self.resolve(job.model)
        self._check(record, caps, job)
        merged = merge_options(record.parameters, job.options)
        # Compiling a schema is bounded (`json_grammar.check_schema_bounds`) but still CPU work:
        # off the event loop, so other requests and /healthz never wait for it.
        grammar = await asyncio.to_thread(grammar_for, job.format)
        if grammar is None and job.tools and self.settings.tool_grammar:
            grammar = await asyncio.to_thread(tool_call_grammar, job.tools)
        engine = self.scheduler.engine(record)
        return _Plan(
            job=job,
            record=record,
            keep_alive=self.keep_alive(job.keep_alive),
            merged=merged,
            opts=replace(sampling_options(merged, self.settings), low_priority=job.low_priority),
            load=engine.load_options(record, merged, self.settings, False),
            grammar=grammar,
            start_ns=start_ns,
            deadline=deadline,
        )

    async def _cache_lookup(self, plan: _Plan) -> CachedAnswer | None:
        """A stored answer to the same deterministic request, if the response cache has one."""
        if self.cache is None or plan.empty or not is_deterministic(plan.merged):
            return None
        job = plan.job
        request = {
            "messages": job.messages,
            "prompt": job.prompt,
            "raw": job.raw,
            "system": job.system,
            "tools": job.tools,
            "format": job.format,
            "options": plan.merged,
        }
        plan.cache_key = self.cache.fingerprint(plan.record.digest, request)
        hit = await asyncio.to_thread(self.cache.get, plan.cache_key)
        self.on_cache(plan.record.name.display, hit is not None)
        return hit

    @staticmethod
    def _replay(plan: _Plan, hit: CachedAnswer) -> list[Event]:
        final = Final(
            done_reason=hit.done_reason,
            content=hit.content,
            tool_calls=hit.tool_calls,
            stats=GenerationStats(**hit.stats),
            cached=True,
            total_duration_ns=plan.elapsed_ns(),
        )
        return [Ready(), *(Text(piece) for piece in hit.pieces), final]

    async def _load_only(self, plan: _Plan) -> Final:
        """An empty prompt loads the model (or, with keep_alive 0, unloads it)."""
        if plan.keep_alive == 0:
            await self.scheduler.unload(plan.record.name.display)
            return Final(done_reason="unload", total_duration_ns=plan.elapsed_ns())
        async with self.scheduler.use(plan.record, plan.load, plan.keep_alive, plan.deadline) as (
            _,
            load_ns,
        ):
            return Final(
                done_reason="load", load_duration_ns=load_ns, total_duration_ns=plan.elapsed_ns()
            )

    async def _fit_prompt(self, slot: Slot, plan: _Plan) -> list[int]:
        """Render and tokenise the prompt so that it fits the context with room to answer."""
        n_ctx = plan.load.n_ctx
        num_predict = plan.opts.num_predict
        reserve = min(num_predict if num_predict > 0 else n_ctx // 8, n_ctx // 2)
        job = plan.job
        return await slot.run(
            fit_prompt, slot.runner, plan.record, job, self.settings.truncate, reserve
        )

    async def _generate(
        self, slot: Slot, plan: _Plan, tokens: list[int]
    ) -> AsyncGenerator[Text | Final, None]:
        """Stream the answer; with tools, hold back what may be a call and parse it at the end.

        Hold-back: `sent` is how much of the text has been streamed. With tools, text from
        the first place a call may start (`call_start`: a tag, a brace or a fence that could
        still open one) is held until it clearly is prose, and released then; what is left
        held at the end is parsed, and a call found there becomes `tool_calls`, not text.
        """
        stats = GenerationStats()
        runner = slot.runner
        loop = asyncio.get_running_loop()
        holding = bool(plan.job.tools)
        text, sent = "", 0
        streamed: list[str] = []
        # Closed on every way out (a client gone, the timeout): the worker stops before the
        # slot is given back.
        async with contextlib.aclosing(
            slot.stream(
                lambda cancel: runner.stream(tokens, plan.opts, plan.grammar, cancel, stats)
            )
        ) as pieces:
            async for piece in pieces:
                if loop.time() > plan.deadline:
                    raise RequestTimeout(
                        f"the request ran past its timeout of {self.settings.request_timeout:.0f}s"
                        " (TERRAQORE_REQUEST_TIMEOUT)"
                    )
                text += piece
                upto = call_start(text, sent) if holding else len(text)
                if upto > sent:
                    streamed.append(text[sent:upto])
                    sent = upto
                    yield Text(streamed[-1])
        content, calls = text, list[dict[str, Any]]()
        if holding:
            rest, calls = parse_tool_calls(text, plan.tool_names)
            tail = text[sent:]
            if calls:
                # The prose after what was streamed; the call itself is never text.
                shown = text[:sent].strip()
                content, tail = rest, rest[len(shown) :] if rest.startswith(shown) else ""
            if tail.strip() or (tail and not calls):
                streamed.append(tail)
                yield Text(tail)
        if plan.cache_key is not None and self.cache is not None and stats.done_reason != "cancel":
            answer = CachedAnswer(streamed, content, calls, stats.done_reason, asdict(stats))
            await asyncio.to_thread(self.cache.put, plan.cache_key, answer)
        yield Final(done_reason=stats.done_reason, content=content, tool_calls=calls, stats=stats)

    async def run(self, job: ChatJob) -> AsyncIterator[Event]:
        """Stream a chat or generate job: `Ready`, `Text`…, `Final`."""
        start_ns = time.perf_counter_ns()
        plan = await self._plan(job, start_ns, self._deadline())
        hit = await self._cache_lookup(plan)
        if hit is not None:
            for event in self._replay(plan, hit):
                yield event
            return
        if plan.empty:
            final = await self._load_only(plan)
            yield Ready()
            yield final
            return
        use = self.scheduler.use(
            plan.record, plan.load, plan.keep_alive, plan.deadline, job.low_priority
        )
        async with use as (slot, load_ns):
            tokens = await self._fit_prompt(slot, plan)
            await slot.run(slot.runner.check_grammar, plan.grammar)
            yield Ready()
            async with contextlib.aclosing(self._generate(slot, plan, tokens)) as events:
                async for event in events:
                    if isinstance(event, Final):
                        event.load_duration_ns = load_ns
                        event.total_duration_ns = plan.elapsed_ns()
                    yield event

    async def embed(
        self,
        model_name: str,
        texts: list[str],
        truncate: bool = True,
        dimensions: int | None = None,
        options: dict[str, Any] | None = None,
        keep_alive: Any = None,
    ) -> Embeddings:
        """Embed texts with an embedding model (ONNX or GGUF); at most `MAX_EMBED_INPUTS`."""
        if len(texts) > MAX_EMBED_INPUTS:
            raise BadRequest(
                f"{len(texts)} inputs in one request; at most {MAX_EMBED_INPUTS} (send the rest "
                "in another request)"
            )
        start = time.perf_counter_ns()
        deadline = self._deadline()
        record, _ = await self.resolve(model_name)
        ka = self.keep_alive(keep_alive)
        merged = merge_options(record.parameters, options)
        load = self.scheduler.engine(record).load_options(record, merged, self.settings, True)
        if dimensions is not None and dimensions < 1:
            raise BadRequest("dimensions must be a positive integer")
        async with self.scheduler.use(record, load, ka, deadline) as (slot, load_ns):
            if not texts:
                return Embeddings([], 0, load_ns, time.perf_counter_ns() - start)
            vectors, count = await slot.run(slot.runner.embed, texts, truncate)
        if dimensions is not None:
            if dimensions > len(vectors[0]):
                raise BadRequest(
                    f"dimensions {dimensions} exceeds the model's {len(vectors[0])} dimensions"
                )
            arr = np.asarray(vectors, dtype=np.float64)[:, :dimensions]
            arr /= np.clip(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12, None)
            vectors = arr.tolist()
        return Embeddings(vectors, count, load_ns, time.perf_counter_ns() - start)
