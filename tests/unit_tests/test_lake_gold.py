from __future__ import annotations

import json
from datetime import date

import pytest

from lake.database import LakeError
from lake.gold import SUMMARY_CHARS, _parse, _token_budget


def test_budget_fits_the_longest_plain_answer() -> None:
    ids = list(range(100_000, 100_008))
    longest = json.dumps({"item_ids": ids, "summary": "x" * SUMMARY_CHARS}, indent=1)
    assert len(longest) <= _token_budget(len(ids))


def test_a_cut_off_answer_is_a_clear_error() -> None:
    with pytest.raises(LakeError, match=r"harbour on 2026-11-22 is not valid JSON.*length"):
        _parse('{"item_ids": [2], "summary": "The winter', "length", "harbour", date(2026, 11, 22))
    assert _parse('{"item_ids": [2], "summary": "ok"}', "stop", None, date(2026, 11, 22)) == {
        "item_ids": [2],
        "summary": "ok",
    }
