"""Static analysis of the generated code with bandit (real SAST, no model involved).

bandit parses the code and never runs it, so it runs in our process on a temporary copy.
`# nosec` comments are ignored: the code under review must not be able to silence its
reviewer. Each issue becomes a finding with a severity, a location and bandit's test id.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bandit.core import config as bandit_config
from bandit.core import manager as bandit_manager
from langgraph.runtime import Runtime

from graphs.studio_context import Context
from graphs.studio_state import State
from terraqore.codecheck.project_files import write_files

# bandit logs every file it skips or cannot parse at WARNING; the findings say enough.
logging.getLogger("bandit").setLevel(logging.ERROR)


def scan(files: Mapping[str, str]) -> list[dict[str, Any]]:
    """Bandit's findings on the project's Python files (tests included), most severe first."""
    with tempfile.TemporaryDirectory(prefix="terraqore-bandit-") as tmp:
        root = Path(tmp)
        write_files(root, {p: t for p, t in files.items() if p.endswith(".py")})
        with warnings.catch_warnings():
            # stevedore (bandit's plugin loader) warns about its own deprecated argument.
            warnings.simplefilter("ignore", DeprecationWarning)
            manager = bandit_manager.BanditManager(
                bandit_config.BanditConfig(), "file", quiet=True, ignore_nosec=True
            )
        manager.discover_files([str(root)], recursive=True)
        manager.run_tests()
        findings = []
        for issue in manager.get_issue_list():
            raw = issue.as_dict(with_code=False)
            rel = Path(raw["filename"]).resolve().relative_to(root.resolve()).as_posix()
            if raw["test_id"] == "B101" and Path(rel).name.startswith("test_"):
                continue  # asserts are what tests are made of
            findings.append(
                {
                    "severity": str(raw["issue_severity"]).lower(),
                    "confidence": str(raw["issue_confidence"]).lower(),
                    "location": f"{rel}:{raw['line_number']}",
                    "issue": f"{raw['test_id']} {raw['issue_text']}",
                    "source": "bandit",
                }
            )
    order = {"high": 0, "medium": 1, "low": 2}
    return sorted(findings, key=lambda f: (order.get(f["severity"], 3), f["location"]))


def security_scan(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Run bandit; the Security agent then reviews the code with these findings in hand."""
    return {"security": {"findings": scan(state.files), "verdict": "pending"}}
