from __future__ import annotations

import time

import pytest

from server.config import ServerSettings, parse_host
from server.errors import BadRequest
from server.runtime.engine_llama import _close_stats, _stop_holdback
from server.runtime.engine_types import GenerationStats
from server.runtime.options import load_options, merge_options, parse_duration, sampling_options


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (300, 300.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("10s", 10.0),
        ("1.5s", 1.5),
        ("0", 0.0),
        (0, 0.0),
        ("250ms", 0.25),
        ("90", 90.0),
        (-1, None),
        ("-1", None),
        ("-5m", None),
    ],
)
def test_parse_duration(value, seconds) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("bad", ["soon", "5x", "m5", "", True, "1h-5m", float("nan")])
def test_parse_duration_rejects(bad) -> None:
    with pytest.raises(BadRequest):
        parse_duration(bad)


def test_request_options_override_model_parameters_and_unknown_keys_are_dropped() -> None:
    merged = merge_options(
        {"temperature": 0.1, "stop": ["</s>"], "num_ctx": 8192},
        {"temperature": 0.9, "stop": "END", "made_up": 1},
    )
    assert merged == {"temperature": 0.9, "stop": ["END"], "num_ctx": 8192}


@pytest.mark.parametrize(
    "bad",
    [
        {"temperature": "hot"},
        {"top_k": 1.5},
        {"stop": [1, 2]},
        {"num_predict": True},
        {"temperature": float("inf")},
    ],
)
def test_bad_option_values_are_400(bad) -> None:
    with pytest.raises(BadRequest):
        merge_options({}, bad)


def test_caps_on_num_predict_and_num_ctx() -> None:
    settings = ServerSettings(max_num_predict=64, max_num_ctx=4096, default_num_ctx=2048)
    assert sampling_options({"num_predict": -1}, settings).num_predict == 64
    assert sampling_options({"num_predict": 10}, settings).num_predict == 10
    assert load_options({}, settings, train_ctx=8192).n_ctx == 2048
    assert load_options({"num_ctx": 10**9}, settings, train_ctx=8192).n_ctx == 4096
    assert load_options({"num_ctx": 10**9}, settings, train_ctx=1024).n_ctx == 1024
    assert load_options({"num_ctx": -5}, settings, train_ctx=8192).n_ctx == 256


def test_sequences_fit_the_batch_every_step_must_hold() -> None:
    """Every decoding sequence puts a token in each step's batch of `num_batch`."""
    settings = ServerSettings(num_parallel=64, batched=True)
    assert load_options({}, settings, train_ctx=8192).sequences == 64  # num_batch 512
    assert load_options({"num_batch": 16}, settings, train_ctx=8192).sequences == 8
    assert load_options({"num_batch": 16}, settings, 8192, embedding=True).sequences == 1
    unbatched = ServerSettings(num_parallel=64, batched=False)
    assert load_options({}, unbatched, train_ctx=8192).sequences == 1


def test_defaults_follow_ollama() -> None:
    opts = sampling_options({}, ServerSettings())
    assert (opts.temperature, opts.top_k, opts.top_p, opts.repeat_penalty) == (0.8, 40, 0.9, 1.1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ("http", "127.0.0.1", 11434)),
        ("0.0.0.0", ("http", "0.0.0.0", 11434)),
        (":8080", ("http", "127.0.0.1", 8080)),
        ("example.org:99", ("http", "example.org", 99)),
        ("https://h.example", ("https", "h.example", 443)),
        ("http://[::1]:5000", ("http", "::1", 5000)),
    ],
)
def test_parse_host(value, expected) -> None:
    assert parse_host(value) == expected


def test_stop_holdback_keeps_possible_stop_prefixes() -> None:
    assert _stop_holdback("hello <|im", ["<|im_end|>"]) == 4
    assert _stop_holdback("hello", ["<|im_end|>"]) == 0
    assert _stop_holdback("abcST", ["STOP", "T!"]) == 2


def test_unbatched_serves_one_request_at_a_time_unless_asked_for_more(monkeypatch) -> None:
    """Unbatched, every slot is a context of its own: turning batching off alone must not
    give the default six (six KV caches)."""
    monkeypatch.setenv("TERRAQORE_BATCHED", "0")
    assert ServerSettings().num_parallel == 1
    monkeypatch.setenv("TERRAQORE_NUM_PARALLEL", "3")
    assert ServerSettings().num_parallel == 3
    monkeypatch.delenv("TERRAQORE_BATCHED")
    monkeypatch.delenv("TERRAQORE_NUM_PARALLEL")
    assert ServerSettings().num_parallel == 6


def test_draft_tokens_never_exceed_the_tokens_produced() -> None:
    """A batch decoder may accept a draft past a stop string; those tokens were not produced."""
    stats = GenerationStats()
    _close_stats(stats, time.perf_counter_ns(), None, produced=3, drafted=5, reason="stop")
    assert (stats.eval_count, stats.draft_tokens) == (3, 3)
    _close_stats(stats, time.perf_counter_ns(), None, produced=9, drafted=4, reason="length")
    assert (stats.eval_count, stats.draft_tokens) == (9, 4)
