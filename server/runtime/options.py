"""Request options: Ollama's `options` object, `keep_alive` durations, and their defaults.

Options merge in this order, later winning: Ollama's defaults, the model's PARAMETERs,
the request's `options`. Unknown keys are ignored, as in Ollama.
"""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

from server.config import ServerSettings
from server.errors import BadRequest
from server.runtime.engine_types import LoadOptions, SamplingOptions

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")

MAX_SEQUENCES = 64
"""Most requests one batched context decodes together (llama.cpp allows 256)."""

_SAMPLING_KEYS = {f.name for f in fields(SamplingOptions)}
_INT_KEYS = {
    "top_k",
    "seed",
    "num_predict",
    "num_ctx",
    "num_batch",
    "num_thread",
    "prompt_lookup_tokens",
}
_FLOAT_KEYS = {
    "temperature",
    "top_p",
    "min_p",
    "typical_p",
    "repeat_penalty",
    "presence_penalty",
    "frequency_penalty",
}


def parse_duration(value: str | float | int | None) -> float | None:
    """Seconds from a `keep_alive` value; None means forever.

    Numbers are seconds; strings are Go durations (`5m`, `1h30m`, `-1s`) or bare numbers.
    Any negative value keeps the model loaded forever.
    """
    if value is None:
        raise BadRequest("keep_alive is missing")
    if isinstance(value, bool):
        raise BadRequest(f"invalid keep_alive {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip()
        sign = -1.0 if text.startswith("-") else 1.0
        body = text.lstrip("+-")
        try:
            seconds = sign * float(body)
        except ValueError:
            pos, total = 0, 0.0
            for match in _DURATION.finditer(body):
                if match.start() != pos:
                    break
                total += float(match.group(1)) * _UNITS[match.group(2)]
                pos = match.end()
            if pos != len(body) or not body:
                raise BadRequest(
                    f"invalid keep_alive {value!r}: use seconds or a duration such as '5m'"
                ) from None
            seconds = sign * total
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise BadRequest(f"invalid keep_alive {value!r}")
    return None if seconds < 0 else seconds


def _coerce(key: str, value: Any) -> Any:
    if value is None:
        return None
    try:
        if key in _INT_KEYS:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if key in _FLOAT_KEYS:
            if isinstance(value, bool):
                raise TypeError
            number = float(value)
            if number != number or number in (float("inf"), float("-inf")):
                raise TypeError
            return number
    except (TypeError, ValueError, OverflowError):
        raise BadRequest(f"option {key!r} has an invalid value {value!r}") from None
    if key == "stop":
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(s, str) for s in value):
            return list(value)
        raise BadRequest("option 'stop' must be a string or a list of strings")
    return value


def merge_options(model_params: dict[str, Any], request: dict[str, Any] | None) -> dict[str, Any]:
    """The model's PARAMETERs overlaid with the request's options (unknown keys dropped)."""
    merged: dict[str, Any] = {}
    for source in (model_params, request or {}):
        for key, value in source.items():
            if key in _SAMPLING_KEYS or key in _INT_KEYS:
                coerced = _coerce(key, value)
                if coerced is not None:
                    merged[key] = coerced
    return merged


def sampling_options(merged: dict[str, Any], settings: ServerSettings) -> SamplingOptions:
    """Sampling options with Ollama's defaults and the server's `num_predict` cap."""
    opts = SamplingOptions(**{k: v for k, v in merged.items() if k in _SAMPLING_KEYS})
    cap = settings.max_num_predict
    if cap > 0 and (opts.num_predict < 0 or opts.num_predict > cap):
        opts.num_predict = cap
    return opts


def load_options(
    merged: dict[str, Any], settings: ServerSettings, train_ctx: int, embedding: bool = False
) -> LoadOptions:
    """Load-time options; `num_ctx` is clamped to the model's training context and the cap."""
    limit = min(settings.max_num_ctx, train_ctx) if train_ctx > 0 else settings.max_num_ctx
    n_ctx = int(merged.get("num_ctx") or settings.default_num_ctx)
    n_ctx = max(min(n_ctx, limit), min(256, limit))
    n_batch = max(min(int(merged.get("num_batch") or 512), 4096), 16)
    threads = int(merged.get("num_thread") or 0)
    threads = threads if 0 < threads <= 256 else settings.resolved_threads()
    sequences = min(max(1, settings.num_parallel), MAX_SEQUENCES) if settings.batched else 1
    # Every decoding sequence puts at least one token in a step's batch of `n_batch`.
    sequences = 1 if embedding else min(sequences, max(1, n_batch // 2))
    return LoadOptions(
        n_ctx=n_ctx, n_batch=n_batch, n_threads=threads, embedding=embedding, sequences=sequences
    )
