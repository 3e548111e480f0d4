"""The prefix cache of KV states: longest-prefix lookup, redundancy, and its byte bound."""

from __future__ import annotations

import numpy as np

from server.runtime.prefix_cache import (
    MIN_RESTORE_TOKENS,
    RESTORE_SPAN,
    PrefixCache,
    SavedState,
    restorable,
)


def _saved(tokens: list[int], prompt_len: int | None = None, size: int = 100) -> SavedState:
    return SavedState(np.asarray(tokens, dtype=np.intc), bytearray(size), prompt_len or len(tokens))


AGENT_A = list(range(1000, 1100))
AGENT_B = list(range(2000, 2100))


def test_lookup_finds_the_entry_sharing_the_longest_prefix() -> None:
    cache = PrefixCache(10_000)
    cache.store(_saved([*AGENT_A, 1, 2, 3]))
    cache.store(_saved([*AGENT_B, 4, 5]))
    saved, shared = cache.lookup([*AGENT_A, 9, 9])
    assert saved is not None and shared == len(AGENT_A) and saved.tokens[0] == 1000


def test_a_short_shared_prefix_is_no_hit() -> None:
    cache = PrefixCache(10_000)
    cache.store(_saved(AGENT_A))
    prompt = AGENT_A[: MIN_RESTORE_TOKENS - 1] + [7] * 50
    assert cache.lookup(prompt) == (None, 0)


def test_a_chat_templates_header_is_restored_when_loading_costs_less_than_evaluating() -> None:
    """A short chat shares only its template's system header (about 20 tokens) with the last
    one; evaluating it again cost an idle batched chat 0.5 s of its first token."""
    cache = PrefixCache(10_000)
    cache.store(_saved(AGENT_A))
    saved, shared = cache.lookup(AGENT_A[:20] + [7] * 50)
    assert saved is not None and shared == 20
    # A state far longer than what is shared costs more to load than it saves.
    assert restorable(20, 20 * RESTORE_SPAN) and not restorable(20, 20 * RESTORE_SPAN + 1)
    assert not restorable(MIN_RESTORE_TOKENS - 1, MIN_RESTORE_TOKENS)


def test_an_entry_whose_prompt_the_new_one_holds_is_dropped() -> None:
    cache = PrefixCache(10_000)
    cache.store(_saved([*AGENT_A, 1, 2], prompt_len=len(AGENT_A) + 1))
    cache.store(_saved([*AGENT_A, 1, 2, 3, 4]))  # the next turn of the same conversation
    cache.store(_saved([*AGENT_A, 5]))  # another question: the first prompt differs, both kept
    assert len(cache) == 2


def test_the_least_recently_used_go_first_beyond_capacity() -> None:
    cache = PrefixCache(250)
    cache.store(_saved(AGENT_A))
    cache.store(_saved(AGENT_B))
    cache.lookup(AGENT_A)  # A is now the most recently used
    cache.store(_saved(list(range(3000, 3100))))
    assert cache.size_bytes == 200 and len(cache) == 2
    assert cache.lookup(AGENT_B) == (None, 0) and cache.lookup(AGENT_A)[0] is not None


def test_a_state_larger_than_the_cache_is_not_kept() -> None:
    cache = PrefixCache(50)
    cache.store(_saved(AGENT_A, size=100))
    assert len(cache) == 0 and cache.size_bytes == 0


def test_an_entry_must_add_enough_to_what_the_context_holds() -> None:
    """Held 3,000 tokens for one more than the context has: loading costs more than it saves."""
    cache = PrefixCache(10_000)
    long = [*AGENT_A, *range(5000, 8000)]
    cache.store(_saved(long))
    prompt = [*long[:2000], 9]
    assert cache.lookup(prompt, have=1999) == (None, 0)
    saved, shared = cache.lookup(prompt, have=1000)
    assert saved is not None and shared == 2000


def test_among_entries_sharing_as_much_the_smallest_is_restored_and_only_it_is_used() -> None:
    cache = PrefixCache(100_000)
    header = AGENT_A[:20]
    cache.store(_saved([*header, *range(5000, 9000)]))  # old and big
    cache.store(_saved([*header, *range(3000, 3040)]))  # small
    cache.store(_saved(AGENT_B))
    saved, shared = cache.lookup([*header, 1, 2, 3])
    assert saved is not None and shared == 20 and len(saved.tokens) == 60
    assert cache.lookup([*header, 1, 2, 3], have=20) == (None, 0)  # adds nothing: a miss
    # Only the entry returned was used: the big one, not restored, goes out first.
    cache.capacity_bytes = 200
    cache.store(_saved(list(range(7000, 7100))))
    assert cache.lookup([*header, *range(5000, 5010)])[1] == 20  # only the header now
    assert cache.lookup([*header, *range(3000, 3010)])[1] == 30
