"""Strict INI-style config files."""

from pathlib import Path

from confkit.errors import ConfigError
from confkit.parser import parse

__all__ = ["ConfigError", "load", "parse"]


def load(path) -> dict[str, dict[str, str]]:
    """Parse the file at path (UTF-8)."""
    return parse(Path(path).read_text(encoding="utf-8"))
