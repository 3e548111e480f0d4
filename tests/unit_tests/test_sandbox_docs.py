"""The sandbox's table of what each kind isolates: one table, in two documents, backed by tests."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from terraqore.codecheck.sandbox import ISOLATING, KINDS

ROOT = Path(__file__).resolve().parents[2]
MARK = re.compile(r"<!-- sandbox-table:.*?<!-- /sandbox-table -->", re.S)


def _table(doc: str) -> str:
    found = MARK.findall((ROOT / doc).read_text(encoding="utf-8"))
    assert len(found) == 1, f"{doc} must hold the sandbox table once"
    return str(found[0])


def test_security_md_and_the_studio_guide_hold_the_same_table() -> None:
    assert _table("SECURITY.md") == _table("docs/studio.md")


def test_the_table_has_a_column_per_kind_in_the_order_they_are_tried() -> None:
    header = next(ln for ln in _table("SECURITY.md").splitlines() if ln.startswith("| what"))
    columns = re.findall(r"`([a-z-]+)`", header)
    assert columns == list(KINDS) and list(KINDS[: len(ISOLATING)]) == list(ISOLATING)
    lines = _table("SECURITY.md").splitlines()[3:]
    rows = [ln.split("|")[1].strip() for ln in lines if ln.startswith("|")]
    assert all(ln.count("|") == len(KINDS) + 2 for ln in lines if ln.startswith("|"))
    for needed in ("files read", "files written", "network", "processes", "disk"):
        assert needed in rows
    assert "other users' processes" in rows


def test_every_test_the_table_cites_exists() -> None:
    cited = re.findall(r"`(test_[a-z0-9_]+\.py)::(test_[a-z0-9_]+)`", _table("SECURITY.md"))
    assert len(cited) >= 7
    for module, name in cited:
        path = ROOT / "tests" / "integration_tests" / module
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert name in names, f"{module}::{name} is cited but does not exist"
