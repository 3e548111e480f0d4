"""Per-run configuration of the studio graph (LangGraph's `context_schema`).

Each agent has its own model, context, token cap and temperature (`AgentConfig`); the run
has its round limits, its security gate, its sandbox limits and its online mode. What the
caller passes wins; the environment fills the rest (`TERRAQORE_MAX_FIX_ROUNDS`,
`TERRAQORE_CODER_MODEL`, ...; see `graphs.context`).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphs.context import AgentConfig, RetrievalContext, agent

SEVERITIES = ("low", "medium", "high")


@dataclass(kw_only=True)
class Context(RetrievalContext):
    """How one studio run behaves."""

    k: int = 3
    """Passages to retrieve: coding prompts are long already, so fewer than Q&A uses."""

    relevance_floor: float | None = None
    """The embedding model's measured floor (`retrievers.config.FLOOR_BY_MODEL`): sources that
    help, or none. Without a floor, the top `k` passages reach the agents however far they are
    from the task, and a coding task mostly gets off-topic ones (bench/README.md, "Sources in
    the studio"); 0 turns it off."""

    idea: AgentConfig = agent("terraqore/idea")
    """The Idea agent's model."""

    planner: AgentConfig = agent("terraqore/planner")
    """The Planner agent's model."""

    coder: AgentConfig = agent("terraqore/coder")
    """The Coder agent's model: the first step of its chain along the task router (the routing
    table's `code` routes after it are the steps it escalates to)."""

    validator: AgentConfig = agent("terraqore/validator")
    """The Validator agent's model: it designs tests from the task and the plan."""

    security: AgentConfig = agent("terraqore/security")
    """The Security agent's model: it reviews what bandit cannot see."""

    coder_format: str = "fenced"
    """How the Coder returns files: `fenced` (one ```python block per file) or `json`."""

    coder_candidates: int = 3
    """Versions the Coder writes on a route's first turn (from the plan, from the task alone,
    then samples at `sample_temperature`; `agents.coder.VARIANTS`); stated tests, designed
    tests and behaviour votes choose among them (`codecheck.selection`). Three by default: more
    versions give the tests a right one to find more often than a single call does
    (bench/README.md, "The studio graph"); one saves two Coder calls per task."""

    staged: bool = False
    """Write the first version alone, and the other `coder_candidates - 1` only when it fails
    (a stated example, or any test when the task states none), beside the fix of its certain
    failures, in one batched turn. Off by default: on 8 held-out tasks the first version was
    kept alone on 2 (30 to 55 s saved each), and the 6 that widened took up to 60 s longer
    than all versions at once (median 196 s against 190 s; bench/README.md, "The first
    version alone"). It pays when the first version is kept on about 40% of tasks or more."""

    sample_temperature: float = 0.5
    """Temperature of the Coder's extra candidates: hot enough to differ from the first
    versions, cool enough that a small model's samples still import and the votes among them
    mean something (bench/README.md, "The studio graph")."""

    coder_seconds: float = 600.0
    """Time limit of one Coder call; past it the Coder moves up its chain."""

    max_fix_rounds: int = 1
    """Times failing tests (those `fix_on` names) may send the code back, per route. One: in
    every recorded benchmark run a second round's fix was never chosen (0 of 27), and a
    first round's once in 54 (bench/README.md, "The studio graph")."""

    fix_on: str = "stated"
    """Which failures send the code back to the Coder. `stated`: only the task's own names and
    examples, the failures that are certainly right. `credible`: also a designed test some
    other version passes (`codecheck.selection.credible_failures`). Fix rounds from designed
    tests cost a Coder call each and a fix was chosen once in 81 across the benchmark's
    runs (bench/README.md, "The studio graph"), so by default they are not sent."""

    max_security_rounds: int = 1
    """Times blocking security findings may send the code back to the Coder."""

    block_severities: tuple[str, ...] = ("high",)
    """Finding severities that block (send the code back, then fail the verdict)."""

    llm_review: bool = True
    """Whether the Security agent reviews the code after bandit (off: bandit alone)."""

    short_path: bool = True
    """A task that fixes one function or class in at most one file (`task_contract.is_short`)
    skips the Idea and the Planner: its plan is read from the task without a model
    (`agents.planner.plan_from_task`). Off: every task goes through both."""

    approve_plan: bool = False
    """Pause after the planner for a human decision (`interrupt`; resume with `Command`)."""

    sandbox: str = ""
    """Force a sandbox kind (`bwrap`, `unshare`, `landlock`); empty picks the strongest that
    works. `audit-hook` runs the code unsandboxed, only when named here."""

    test_seconds: float = 60.0
    """Wall-clock limit of one sandboxed test run."""

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = set(self.block_severities) - set(SEVERITIES)
        if unknown:
            raise ValueError(f"unknown severities {sorted(unknown)}; use {', '.join(SEVERITIES)}")
        if self.coder_candidates < 1:
            raise ValueError(f"coder_candidates must be at least 1, not {self.coder_candidates}")
        if self.fix_on not in ("stated", "credible"):
            raise ValueError(f"fix_on must be stated or credible, not {self.fix_on!r}")
        if self.coder_format not in ("fenced", "json"):
            raise ValueError(f"coder_format must be fenced or json, not {self.coder_format!r}")
