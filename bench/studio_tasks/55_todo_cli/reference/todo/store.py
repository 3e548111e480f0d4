"""The todo list's JSON file."""

import json
from pathlib import Path


def load(path) -> list[dict]:
    """The saved items, or [] when the file does not exist."""
    p = Path(path)
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else []


def save(path, items: list[dict]) -> None:
    """Write the items."""
    Path(path).write_text(json.dumps(items, indent=2), encoding="utf-8")
