"""The studio graph's state: the task in, and the idea, plan, code, tests and review out.

Everything here is plain data (dicts, lists, strings), so a SQLite checkpointer stores it
and a caller reads it without our classes. Nodes return only the fields they change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphs.state import RetrievalState


@dataclass(kw_only=True)
class InputState:
    """What a caller passes: `graph.invoke({"task": "a CLI that finds duplicate photos"})`."""

    task: str
    """The user's request, in their words."""


@dataclass(kw_only=True)
class State(RetrievalState, InputState):
    """Everything the studio graph works on."""

    contract: dict[str, Any] = field(default_factory=dict)
    """The names the task fixes, read without a model (`codecheck.task_contract`): `callables`
    (name, kind, owner, params, arities), `files`, `modules`, `commands`. The plan, the
    versions and the designed tests are held to it."""

    idea: dict[str, Any] | None = None
    """The Idea agent's brief (`agents.idea.IdeaBrief`)."""

    plan: dict[str, Any] | None = None
    """The Planner's plan (`agents.planner.Plan`): steps, files, acceptance criteria, tests."""

    short: bool = False
    """The plan was read from the task, with no Idea or Planner call (`graphs.studio`'s short
    path): the Coder writes no separate task-only version, which would repeat the first."""

    plan_feedback: str = ""
    """A human's reason for rejecting the plan (approval interrupt), for the Planner."""

    approved: bool = True
    """False when a human stopped the run at the plan."""

    files: dict[str, str] = field(default_factory=dict)
    """The project: path -> content, of the selected candidate (see `candidates`)."""

    candidates: list[dict[str, Any]] = field(default_factory=list)
    """Every version of the code the Coder wrote, in order: `id`, `route` (which model wrote
    it), `origin` (`first`, `direct`, `sample`, `direct-sample`, `fix` or `security`; see
    `agents.coder.VARIANTS`), `files`, and once tested its `validation`. The tests pick
    one (`terraqore.codecheck.selection`); a worse fix never wins."""

    selected: int = -1
    """The id of the candidate whose code is `files` (-1 before the first test run)."""

    blocked: list[int] = field(default_factory=list)
    """Candidates the security gate blocked: chosen again only if nothing else is left."""

    coder_routes: list[str] = field(default_factory=list)
    """The Coder's chain (`endpoint:model`), planned by the task router at its first call."""

    coder_skipped: list[str] = field(default_factory=list)
    """Routes the router left out of the chain, and why (e.g. online mode is off)."""

    coder_route: str = ""
    """The route the Coder writes on now."""

    route_rounds: int = 0
    """Fix rounds spent on the current route (each route gets `max_fix_rounds`)."""

    widen: bool = False
    """The route's first version failed a test (`Context.staged`): the Coder's next turn
    writes the route's other versions, beside a fix of its certain failures."""

    coder_unusable: str = ""
    """Why the Coder's last turn wrote nothing usable (empty when it did): the graph then
    moves it to the next route, if there is one."""

    escalations: list[dict[str, Any]] = field(default_factory=list)
    """Each move to the next route: `from`, `to` and the reason."""

    code_route: str = ""
    """The route whose candidate is the selected code: which model produced the result."""

    designed_tests: list[dict[str, Any]] = field(default_factory=list)
    """The tests every version runs, designed from the task and plan, never from the code:
    the task's own examples (`origin` `task`, `codecheck.task_examples`), then the Validator's.
    Each has `name`, `code` and `stated` (it states an example of the task)."""

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

    report: str = ""
    """The run's report in Markdown."""

    def retrieval_query(self) -> str:
        """Retrieval looks for the task itself."""
        return self.task
