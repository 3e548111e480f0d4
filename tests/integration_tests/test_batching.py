"""Continuous batching with the real 0.5B model: sequences of one context decode together and
each gets what it would get alone; cancelling, joining and a full KV cache hurt no other."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from server.errors import ServiceUnavailable
from server.models.store import ModelStore
from server.runtime.engine_llama import LlamaRunner
from server.runtime.engine_types import GenerationStats, LoadOptions, SamplingOptions
from server.runtime.json_grammar import grammar_for
from server.runtime.llama_batch import BatchDecoder, Failed, Finished, SeqJob, Started, Token
from server.runtime.llama_model import ServerLlama
from server.runtime.prefix_cache import PrefixCache
from tests.server_harness import CHAT, RunningServer

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


@pytest.fixture(scope="module")
def model_path(server: RunningServer) -> Path:
    return ModelStore(server.home / "models").get(CHAT).model_path


@pytest.fixture(scope="module")
def runner(model_path: Path) -> Iterator[LlamaRunner]:
    load = LoadOptions(n_ctx=1024, n_threads=2, sequences=3)
    r = LlamaRunner(model_path, load, None, PrefixCache(64 << 20))
    yield r
    r.close()


def _prompt(
    runner: LlamaRunner, question: str, system: str = "You are a terse assistant."
) -> list[int]:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    return runner.tokenize(runner.render_chat(messages, None, ""))


def _agree(text: str, alone: str) -> bool:
    """The same greedy text, or the same for a long while.

    Exact equality is what the three-at-once test finds, but it is not promised: llama.cpp's
    CPU kernels sum in another order for a batch of another row count, so a near tie between
    two tokens can flip once the others in the batch change (llama-server behaves alike).
    """
    pairs = enumerate(zip(text, alone, strict=False))
    shared = next((i for i, (a, b) in pairs if a != b), min(len(text), len(alone)))
    return text == alone or shared >= max(20, min(len(text), len(alone)) // 3)


def _run(
    runner: LlamaRunner,
    prompt: list[int],
    cancel: threading.Event | None = None,
    grammar_format: object = None,
    **options: object,
) -> tuple[str, GenerationStats]:
    stats = GenerationStats()
    opts = SamplingOptions(temperature=0, **options)  # type: ignore[arg-type]
    grammar = grammar_for(grammar_format) if grammar_format else None
    pieces = runner.stream(prompt, opts, grammar, cancel or threading.Event(), stats)
    return "".join(pieces), stats


def test_concurrent_sequences_each_get_what_they_get_alone(runner: LlamaRunner) -> None:
    """Greedy, with their own num_predict, stop string and JSON schema, at once and alone."""
    jobs = [
        (_prompt(runner, "Count from 1 to 30, comma separated."), {"num_predict": 40}, None),
        (_prompt(runner, "Write a haiku about rivers."), {"num_predict": 60, "stop": ["\n"]}, None),
        (_prompt(runner, "Invent a person."), {"num_predict": 80}, SCHEMA),
    ]
    alone = [_run(runner, p, None, fmt, **o) for p, o, fmt in jobs]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(lambda j: _run(runner, j[0], None, j[2], **j[1]), jobs))
    for (text, stats), (text_alone, _), (_, options, fmt) in zip(
        together, alone, jobs, strict=True
    ):
        assert _agree(text, text_alone)
        assert stats.eval_count <= int(options["num_predict"])  # type: ignore[call-overload]
        if "stop" in options:
            assert "\n" not in text and stats.done_reason == "stop"
        if fmt is not None:
            data = json.loads(text)
            assert set(data) == {"name", "age"} and isinstance(data["age"], int)
    assert together[0][1].done_reason == "length" and together[0][1].eval_count == 40


def test_a_cancelled_sequence_frees_its_cells_and_the_others_finish(runner: LlamaRunner) -> None:
    decoder = runner.decoder
    assert decoder is not None
    second = _prompt(runner, "List twenty fruits, one per line.")
    alone, _ = _run(runner, second, num_predict=60)
    first = _prompt(runner, "Tell me a long story about a lighthouse.")
    doomed = SeqJob(first, runner.llm._init_sampler(temp=0.0), limit=400)
    with ThreadPoolExecutor(1) as pool:
        decoder.submit(doomed)
        survivor = pool.submit(_run, runner, second, None, None, num_predict=60)
        tokens = 0
        while tokens < 10:
            tokens += isinstance(doomed.events.get(timeout=60), Token)
        doomed.cancel.set()
        while not isinstance(event := doomed.events.get(timeout=60), Finished):
            assert not isinstance(event, Failed)
        text, stats = survivor.result(timeout=120)
    assert event.reason == "cancel"
    assert decoder.held(doomed.seq) == 0
    assert _agree(text, alone) and stats.eval_count == 60


def test_a_sequence_joining_mid_batch_does_not_change_the_others(runner: LlamaRunner) -> None:
    """A count has no near ties: any mix-up of cells or positions would show in it."""
    counting = _prompt(runner, "Count from 1 to 60, comma separated, nothing else.")
    alone, _ = _run(runner, counting, num_predict=150)
    with ThreadPoolExecutor(3) as pool:
        running = pool.submit(_run, runner, counting, None, None, num_predict=150)
        time.sleep(1.0)  # it is decoding now
        joiners = [
            pool.submit(
                _run, runner, _prompt(runner, f"Name {n} colours."), None, None, num_predict=30
            )
            for n in (3, 5)
        ]
        text, _ = running.result(timeout=180)
        assert all(j.result(timeout=180)[1].eval_count > 0 for j in joiners)
    assert text == alone
    numbers = text.strip().split(", ")
    assert len(numbers) >= 30 and numbers == [str(i) for i in range(1, len(numbers) + 1)]


def test_three_identical_prompts_at_once_evaluate_the_prompt_once(runner: LlamaRunner) -> None:
    system = f"[{uuid.uuid4().hex}] You are the Coder. " + "Write clean, tested Python. " * 12
    prompt = _prompt(runner, "Write slugify(text).", system)
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: _run(runner, prompt, num_predict=8), range(3)))
    cached = sorted(stats.cached_prompt_tokens for _, stats in results)
    assert cached[0] < 32  # the first evaluates it (but a chat template's header)
    assert cached[1] == cached[2] == len(prompt) - 1  # the others copy its cells
    assert sorted(stats.prefix for _, stats in results) == ["cold", "shared", "shared"]


def test_an_interactive_prompt_is_evaluated_before_a_batch_lines(model_path: Path) -> None:
    """A batch line's long prompt, sent first, does not hold up a chat's first token."""
    load = LoadOptions(n_ctx=1024, n_batch=64, n_threads=2, sequences=2)
    runner = LlamaRunner(model_path, load, None, None)
    text = "Summarise the ledger entries below in one word. " * 50
    prompts = [_prompt(runner, text, f"[{uuid.uuid4().hex}] You are terse.") for _ in range(2)]
    assert all(len(p) > 500 for p in prompts)  # about ten steps of 64 each
    ended: dict[str, float] = {}

    def run(kind: str, prompt: list[int]) -> None:
        _run(runner, prompt, num_predict=2, low_priority=kind == "line")
        ended[kind] = time.monotonic()

    try:
        with ThreadPoolExecutor(2) as pool:
            line = pool.submit(run, "line", prompts[0])
            time.sleep(0.05)  # the line joins first
            chat = pool.submit(run, "chat", prompts[1])
            line.result(), chat.result()
    finally:
        runner.close()
    assert ended["chat"] < ended["line"], ended


def test_a_full_kv_cache_ends_the_youngest_sequence_with_a_clear_error(model_path: Path) -> None:
    """Two sequences that need 440 cells in a cache of 256: the older one still finishes."""
    llm = ServerLlama(
        model_path=str(model_path), n_ctx=256, n_batch=256, n_threads=2, sequences=2, verbose=False
    )
    decoder = BatchDecoder(llm, 2, None)
    try:
        prompt = list(llm.tokenize(b"Count upwards from one, forever: 1, 2, 3,", add_bos=False))
        jobs = [SeqJob(list(prompt), llm._init_sampler(temp=0.0), limit=200) for _ in range(2)]
        for job in jobs:
            decoder.submit(job)
            time.sleep(0.3)
        ends = []
        for job in jobs:
            tokens = 0
            while True:
                event = job.events.get(timeout=120)
                if isinstance(event, Token):
                    tokens += 1
                elif isinstance(event, Finished | Failed):
                    ends.append((event, tokens))
                    break
        (older, older_tokens), (younger, younger_tokens) = ends
        assert isinstance(older, Finished) and older_tokens == 200
        assert isinstance(younger, Failed) and isinstance(younger.error, ServiceUnavailable)
        assert "KV cache" in str(younger.error) and younger_tokens < 200
        assert decoder.held(jobs[1].seq) == 0
    finally:
        decoder.close()
        llm.close()


def _events(job: SeqJob) -> tuple[Started, int]:
    """A job's start and how many tokens it produced, once it has ended."""
    started, tokens = None, 0
    while True:
        event = job.events.get(timeout=120)
        if isinstance(event, Started):
            started = event
        elif isinstance(event, Token):
            tokens += 1
        elif isinstance(event, Finished | Failed):
            assert started is not None
            return started, tokens


def test_a_saved_prefix_that_cannot_be_restored_falls_back_to_a_live_share(
    model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prefix cache holds the longest match but restoring it finds no room: the prompt
    shares a running sequence's cells instead of evaluating everything again."""
    llm = ServerLlama(
        model_path=str(model_path),
        n_ctx=2048,
        n_batch=256,
        n_threads=2,
        sequences=3,
        verbose=False,
    )
    decoder = BatchDecoder(llm, 3, PrefixCache(64 << 20))
    common = f"[{uuid.uuid4().hex}] " + "The ledger lists rent, food and travel. " * 6
    tokens = lambda text: list(llm.tokenize(text.encode(), add_bos=False))  # noqa: E731
    try:
        saved = SeqJob(tokens(common + "Sum the rent."), llm._init_sampler(temp=0.0), limit=2)
        decoder.submit(saved)
        _events(saved)  # finished: its state is in the prefix cache
        running = SeqJob(tokens(common + "Count to a hundred:"), llm._init_sampler(temp=0.0), 120)
        decoder.submit(running)
        while running.produced < 3:  # it is decoding, its cells live
            time.sleep(0.05)
        monkeypatch.setattr(llm, "load_sequence", lambda seq, state: False)  # no room
        late = SeqJob(
            tokens(common + "Sum the rent and food."), llm._init_sampler(temp=0.0), limit=2
        )
        decoder.submit(late)
        started, _ = _events(late)
        assert started.prefix == "shared" and started.cached_tokens >= len(tokens(common)) - 2
        _events(running)
    finally:
        decoder.close()
        llm.close()


def test_a_prompt_parked_for_room_keeps_what_it_had_evaluated(model_path: Path) -> None:
    """A long prompt is being evaluated, 31 tokens a step, when the running sequence fills the
    cache (256 cells): the prompt is parked until that one ends, and when it joins again it
    restores the part it had evaluated from the prefix cache instead of starting over."""
    llm = ServerLlama(
        model_path=str(model_path), n_ctx=256, n_batch=32, n_threads=2, sequences=2, verbose=False
    )
    decoder = BatchDecoder(llm, 2, PrefixCache(64 << 20))
    tokens = lambda text: list(llm.tokenize(text.encode(), add_bos=False))  # noqa: E731
    try:
        counting = tokens("Count upwards from one, forever: 1, 2, 3,")
        running = SeqJob(counting, llm._init_sampler(temp=0.0), limit=256 - len(counting) - 8)
        decoder.submit(running)
        while running.produced < 150:
            time.sleep(0.05)
        prompt = tokens(f"[{uuid.uuid4().hex}] " + "Rent, food, travel and books. " * 20)
        assert 256 - 150 - len(counting) < len(prompt) < 256 - 8
        parked = SeqJob(prompt, llm._init_sampler(temp=0.0), limit=2)
        decoder.submit(parked)
        starts = []
        while True:
            event = parked.events.get(timeout=120)
            if isinstance(event, Started):
                starts.append(event)
            elif isinstance(event, Finished | Failed):
                break
        assert isinstance(event, Finished), event
        assert len(starts) == 2, starts  # joined, parked, joined again once the other ended
        assert starts[1].prefix == "restored" and starts[1].cached_tokens >= 31
        assert _events(running)[0].prefix == "cold"
    finally:
        decoder.close()
        llm.close()


def test_concurrent_chats_through_the_server_respect_their_own_options(
    server: RunningServer,
) -> None:
    def chat(body: dict[str, object]) -> dict:
        r = httpx.post(f"{server.url}/api/chat", json=body, timeout=300)
        assert r.status_code == 200, r.text
        return r.json()

    base = {"model": CHAT, "stream": False}
    bodies = [
        {
            **base,
            "messages": [{"role": "user", "content": "Count to 50."}],
            "options": {"temperature": 0, "num_predict": 12},
        },
        {
            **base,
            "messages": [{"role": "user", "content": "Say: alpha beta gamma"}],
            "options": {"temperature": 0, "num_predict": 40, "stop": ["beta"]},
        },
        {
            **base,
            "messages": [{"role": "user", "content": "Invent a person."}],
            "format": SCHEMA,
            "options": {"temperature": 0.8, "num_predict": 80},
        },
    ]
    with ThreadPoolExecutor(3) as pool:
        counted, stopped, person = pool.map(chat, bodies)
    assert counted["eval_count"] == 12 and counted["done_reason"] == "length"
    assert "beta" not in stopped["message"]["content"]
    assert set(json.loads(person["message"]["content"])) == {"name", "age"}
