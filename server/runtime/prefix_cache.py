"""A bounded RAM cache of KV states keyed by the tokens they hold.

Agents take turns on one loaded model, and each sends its own long system prompt. The
llama.cpp context holds only the last prompt's KV state, so without this cache every
switch of agent evaluates the whole system prompt again. After each generation the runner
stores the sequence's state here; before the next one it restores the entry that shares the
longest prefix with the new prompt, if that beats what the context already holds.

Entries are opaque bytes (llama.cpp's per-sequence state) with their tokens. The cache is
shared by the slots of one loaded model, so it is locked.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MIN_PREFIX_TOKENS = 32
"""States holding fewer tokens are not kept, and a shorter prefix is not worth waiting for
another sequence to prefill (`llama_batch`); shorter shared prefixes are still restored."""
RESTORE_SPAN = 1000
"""A saved state is restored when it adds to what the context holds at least one prompt
token per this many it holds (and `MIN_RESTORE_TOKENS`). Measured on the 1.5B, two cores:
loading a state costs 0.004 to 0.008 ms per token it holds, evaluating a prompt 18 to 23 ms
per token, so one token saved pays for loading 2,000 to 6,000; 1,000 leaves room for a
faster CPU. The former floor of 32 shared tokens cost every short chat its chat template's
system header: batched, with finished sequences' cells removed, an idle chat's first token
took 1.70 s against 1.09 s unbatched (`bench/idle_ttft.py`), where llama-cpp-python keeps
the live prefix whatever its length."""
MIN_RESTORE_TOKENS = 4
"""Fewer tokens saved are not worth a lookup's hit: a BOS and a role marker."""


def restorable(shared: int, held: int) -> bool:
    """Whether restoring a state of `held` tokens pays for `shared` prompt tokens it saves."""
    return shared >= max(MIN_RESTORE_TOKENS, -(-held // RESTORE_SPAN))


def common_prefix(a: npt.NDArray[np.intc], b: npt.NDArray[np.intc]) -> int:
    """Length of the longest common prefix of two token arrays."""
    n = min(len(a), len(b))
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if len(differ) else n


@dataclass(frozen=True)
class SavedState:
    """The KV state of one sequence: the tokens it holds and llama.cpp's bytes for it."""

    tokens: npt.NDArray[np.intc]
    state: bytearray
    """Never changed once saved (a bytearray only so llama.cpp can read it without a copy)."""
    prompt_len: int
    """How many of `tokens` were the prompt (the rest were generated)."""


class PrefixCache:
    """Saved states, least recently used first out, at most `capacity_bytes` in all."""

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self._entries: OrderedDict[int, SavedState] = OrderedDict()
        self._next = 0
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def size_bytes(self) -> int:
        """Bytes of state held now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, prompt: Sequence[int], have: int = 0) -> tuple[SavedState | None, int]:
        """The entry sharing the longest prefix with `prompt`, if restoring it pays.

        `have` is how much of the prompt the caller already holds: the entry must add to
        that enough tokens to pay for loading it (`restorable`). Among entries sharing as
        much, the smallest (the cheapest to load). Only an entry returned counts as used.
        """
        wanted = np.asarray(prompt, dtype=np.intc)
        best: tuple[int, int, int] | None = None
        with self._lock:
            for key, entry in self._entries.items():
                shared = common_prefix(entry.tokens, wanted)
                rank = (shared, -len(entry.tokens), key)
                if restorable(shared - have, len(entry.tokens)) and (best is None or rank > best):
                    best = rank
            if best is None:
                return None, 0
            key = best[2]
            self._entries.move_to_end(key)
            return self._entries[key], best[0]

    def store(self, saved: SavedState) -> None:
        """Keep a state; drop the entries it makes redundant and the oldest beyond capacity.

        An entry is redundant when the new one holds its whole prompt: anything that would
        have matched it matches the new one at least as far.
        """
        if len(saved.tokens) < MIN_PREFIX_TOKENS or len(saved.state) > self.capacity_bytes:
            return
        with self._lock:
            for key, entry in list(self._entries.items()):
                if common_prefix(entry.tokens, saved.tokens) >= entry.prompt_len:
                    self._drop(key)
            self._entries[self._next] = saved
            self._next += 1
            self._bytes += len(saved.state)
            while self._bytes > self.capacity_bytes:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: int) -> None:
        self._bytes -= len(self._entries.pop(key).state)
