"""The behaviour probe's runtime: the top of every probe file, run only inside the sandbox.

`codecheck.behaviour.probe_source` copies this module's source into the probe file, after
the star imports of the project's modules and before the probes (`_p01`, ...), which it adds
to `_PROBES`. Never imported to run here: importing it defines names and does nothing.
Every name starts with `_`, so a star-imported project name cannot collide with it.
"""

# No `from __future__` import: the source is pasted below other lines of the probe file.
import contextlib as _contextlib
import json as _json
import os as _os
import re as _re
import signal as _signal
from collections.abc import Callable as _Callable
from collections.abc import Iterator as _Iterator
from typing import Any as _Any

_ANSWERS_FILE = ".terraqore-probe.json"
_MAX_ANSWER = 300
_MAX_ANSWERS = 40
_PROBE_SECONDS = 2
_PROBES: dict[str, _Callable[[], object]] = {}

# Absolute: the code under test may change the working folder.
_ANSWERS_PATH = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), _ANSWERS_FILE)
_ANSWERS: dict[str, list[str]] = {}
_NOW: list[str] = []


class _ProbeTimeout(BaseException):
    """Not an Exception: the code's own `except Exception` must not swallow it."""


def _norm(value: _Any, depth: int = 0) -> str:
    """A value as a short, stable string (sets and dicts sorted, addresses dropped)."""
    if depth > 6:
        return "..."
    if isinstance(value, float):
        return format(value, ".9g")
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_norm(v, depth + 1) for v in list(value)[:50])
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(_norm(v, depth + 1) for v in value)[:50]) + "}"
    if isinstance(value, dict):
        items = sorted(_norm(k, depth + 1) + ": " + _norm(v, depth + 1) for k, v in value.items())
        return "dict{" + ", ".join(items[:50]) + "}"
    if isinstance(value, BaseException):
        return "raised " + type(value).__name__
    return _re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))[:_MAX_ANSWER]


def _seen(value: _Any) -> _Any:
    """Record a value the test checks, and give it back."""
    if len(_NOW) < _MAX_ANSWERS:
        try:
            _NOW.append(_norm(value)[:_MAX_ANSWER])
        except _ProbeTimeout:
            raise
        except BaseException as exc:  # a value whose repr raises is an answer too
            _NOW.append("unprintable " + type(exc).__name__)
    return value


class _Caught:
    """What `with pytest.raises(E) as caught` binds: the test may read it afterwards."""

    type: _Any = None  # (an exception class, once caught)
    value: BaseException | None = None


@_contextlib.contextmanager
def _raises(*_args: _Any, **_kwargs: _Any) -> _Iterator[_Caught]:
    """`pytest.raises` that records what was raised (or that nothing was) instead of failing."""
    caught = _Caught()
    try:
        yield caught
    except _ProbeTimeout:
        raise
    except BaseException as exc:
        caught.type, caught.value = type(exc), exc
        _seen(exc)
    else:
        _seen("no exception")


def _timeout(*_args: _Any) -> None:
    """The alarm's handler: end the probe that overran."""
    raise _ProbeTimeout()


def test_probe() -> None:
    """Run each probe under its own alarm; write the answers after every one."""
    _signal.signal(_signal.SIGALRM, _timeout)
    for name, probe in sorted(_PROBES.items()):
        _NOW.clear()
        try:
            # Repeats, in case the code catches even a BaseException once.
            _signal.setitimer(_signal.ITIMER_REAL, _PROBE_SECONDS, 0.5)
            probe()
        except _ProbeTimeout:
            _NOW.append("raised TimeoutError")
        except BaseException as exc:
            _seen(exc)
        finally:
            _signal.setitimer(_signal.ITIMER_REAL, 0)
        _ANSWERS[name] = list(_NOW)
        # After every probe: a later one that hangs past the wall clock loses only itself.
        with open(_ANSWERS_PATH, "w", encoding="utf-8") as f:
            _json.dump(_ANSWERS, f, ensure_ascii=False)
