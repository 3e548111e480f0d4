"""The studio graph's state: the task in, and the idea, plan, code, tests and review out.

Everything here is plain data (dicts, lists, strings), so a SQLite checkpointer stores it
and a caller reads it without our classes. Nodes return only the fields they change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents.state import RetrievalState


@dataclass(kw_only=True)
class InputState:
    """What a caller passes: `graph.invoke({"task": "a CLI that finds duplicate photos"})`."""

    task: str
    """The user's request, in their words."""


@dataclass(kw_only=True)
class State(RetrievalState, InputState):
    """Everything the studio graph works on."""

    idea: dict[str, Any] | None = None
    """The Idea agent's brief (`agents.idea.IdeaBrief`)."""

    plan: dict[str, Any] | None = None
    """The Planner's plan (`agents.planner.Plan`): steps, files, acceptance criteria, tests."""

    plan_feedback: str = ""
    """A human's reason for rejecting the plan (approval interrupt), for the Planner."""

    approved: bool = True
    """False when a human stopped the run at the plan."""

    files: dict[str, str] = field(default_factory=dict)
    """The project: path -> content, as the Coder last wrote it (or the best round's)."""

    designed_tests: list[dict[str, str]] = field(default_factory=list)
    """The Validator's tests, designed from the task and plan, never from the code."""

    test_files: dict[str, str] = field(default_factory=dict)
    """The Validator's tests as the pytest file that ran (path -> content)."""

    validation: dict[str, Any] = field(default_factory=dict)
    """The last test run: passed, tests_run, failures, output, sandbox, seconds."""

    security: dict[str, Any] = field(default_factory=dict)
    """The review: findings (severity, location, issue, source) and the verdict."""

    feedback: str = ""
    """What the Coder must fix next (failing tests or blocking findings), in a few lines."""

    feedback_kind: str = ""
    """Why the Coder runs again: `tests` or `security` (empty on the first round)."""

    rounds: dict[str, int] = field(default_factory=lambda: {"fix": 0, "security": 0})
    """How many times failing tests and blocking findings sent the code back."""

    best: dict[str, Any] = field(default_factory=dict)
    """The round whose code passed the most tests: files and validation, to fall back on."""

    report: str = ""
    """The run's report in Markdown."""

    def retrieval_query(self) -> str:
        """Retrieval looks for the task itself."""
        return self.task
