"""API keys: parsed by id, and a weak configuration is an error, never half applied."""

from __future__ import annotations

import pytest

from server.config import MIN_KEY_LENGTH, ServerSettings


def test_keys_by_id_with_and_without_ids(tmp_path) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text("# team keys\nci:" + "c" * 20 + "\n" + "d" * 20 + "\n")
    keys = ServerSettings(api_keys="alice:" + "a" * 16, api_keys_file=keys_file).keys()
    assert keys["alice"] == "a" * 16 and keys["ci"] == "c" * 20
    assert sorted(keys.values()) == ["a" * 16, "c" * 20, "d" * 20]


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ("alice:,bob:" + "x" * 20, "empty"),  # the review's configuration
        ("alice:  ", "empty"),
        ("bob:" + "x" * (MIN_KEY_LENGTH - 1), "too short"),
        ("x" * (MIN_KEY_LENGTH - 1), "too short"),
        ("a:" + "x" * 20 + ",a:" + "y" * 20, "twice"),
    ],
)
def test_weak_keys_are_refused(config: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as info:
        ServerSettings(api_keys=config).keys()
    assert "x" * (MIN_KEY_LENGTH - 1) not in str(info.value)
