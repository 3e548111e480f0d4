from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from lake.text import NearDuplicateIndex, hamming, language, normalise, simhash, token_counter

ARTICLE = (
    "The lighthouse stands on a rocky island at the mouth of the harbour. It was built in 1850 "
    "and guided ships through the narrow channel for more than a century. Today it is a museum, "
    "and visitors climb its spiral stairs to see the lamp and the view of the coast."
)


def test_normalise_removes_control_chars_boilerplate_and_extra_space() -> None:
    raw = "Title\u0007\r\n\r\nAccept all cookies\nSome   text\u00a0here.\n\n\n\nSubscribe now\nEnd ﬁne"
    text = normalise(raw)
    assert "\u0007" not in text and "cookies" not in text.lower() and "Subscribe" not in text
    assert "Some text here." in text and "\n\n\n" not in text and "fine" in text  # NFKC ligature


def test_language() -> None:
    assert language(ARTICLE) == "en"
    german = (
        "Der Leuchtturm steht auf einer Insel und ist seit vielen Jahren ein Museum, das "
        "von den Besuchern gern besucht wird, die mit dem Boot kommen und die Treppe zu der "
        "Lampe hinaufsteigen, um die Küste zu sehen."
    )
    assert language(german) == "de"
    assert language("too short") == "und"


def test_simhash_is_close_for_near_copies_and_far_otherwise() -> None:
    edited = ARTICLE.replace("museum", "gallery")
    other = (
        "Quarterly revenue rose by twelve percent as cloud sales grew faster than expected. " * 3
    )
    assert hamming(simhash(ARTICLE), simhash(edited)) < hamming(simhash(ARTICLE), simhash(other))
    assert hamming(simhash(ARTICLE), simhash(ARTICLE)) == 0


@settings(max_examples=200, deadline=None)
@given(h=st.integers(0, 2**64 - 1), flips=st.sets(st.integers(0, 63), max_size=3))
def test_index_finds_every_hash_within_the_distance(h: int, flips: set[int]) -> None:
    index = NearDuplicateIndex(max_bits=3)
    index.add(h)
    near = h
    for bit in flips:
        near ^= 1 << bit
    assert index.near(near)


def test_index_does_not_match_distant_hashes() -> None:
    rng = random.Random(1)
    index = NearDuplicateIndex(max_bits=3)
    stored = [rng.getrandbits(64) for _ in range(500)]
    for h in stored:
        index.add(h)
    probes = [rng.getrandbits(64) for _ in range(500)]
    assert sum(index.near(p) for p in probes) == sum(
        any(hamming(p, s) <= 3 for s in stored) for p in probes
    )


def test_token_counter_uses_the_minilm_tokenizer() -> None:
    count = token_counter()
    assert count("hello world") == 2 and count("unbelievably") >= 2
