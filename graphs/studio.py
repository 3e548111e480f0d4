"""The studio graph: Idea -> Planner -> Coder and Validator -> Security, wired.

retrieve -> [online and weak] search_ingest -> idea -> planner (held to the task's names) ->
[approval on] approve_plan -> coder and validator at once (the tests come from the task and
the plan, never from the code) -> coder: [unusable, next route] escalate -> coder | run_tests ->
[staged, the first version failed] coder (the other versions, and its fix) |
[failing examples of the task, rounds left] coder | [still failing, next route] escalate -> coder |
security_scan -> security -> [blocking, rounds left] coder | report.

A short task (one function or class in at most one file) goes from retrieve to
plan_from_task (the plan read from the task, no model) and on to the coder and validator.
The coder and validator run in one step, which ends when both have: `run_tests`, the next
step, sees the versions and the designed tests. The validator is a leaf; its step is the join.

Every router is here, with its path map, so `graph.get_graph()` draws every edge. `graph`
is compiled without a checkpointer, for `langgraph dev` (which brings its own and passes the
context); `build_graph(checkpointer=...)` gives the Python API resumable threads and the plan
approval interrupt. Input: `{"task": "..."}`; per-run settings: `context=Context(...)`;
`run(inputs)` runs once on the default context.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from agents.coder import coder
from agents.idea import idea
from agents.planner import plan_from_task, planner
from agents.security import security
from agents.validator import validator
from graphs.context import run_on_defaults
from graphs.studio_context import Context
from graphs.studio_state import InputState, State
from nodes.approval import approve_plan
from nodes.bandit_scan import security_scan
from nodes.escalation import escalate, next_route
from nodes.report import report
from nodes.retrieve import retrieve
from nodes.run_tests import run_tests
from nodes.search_ingest import needs_web, search_ingest
from terraqore.codecheck.task_contract import is_short, read_contract


def after_retrieve(
    state: State, runtime: Runtime[Context]
) -> Literal["search_ingest", "idea", "plan_from_task"]:
    """Search the web only in online mode and when the lake's sources looked weak.

    Otherwise a short task (`task_contract.is_short`) skips the Idea and the Planner, unless
    the short path is off or a human approves plans.
    """
    if needs_web(state, runtime):
        return "search_ingest"
    ctx = runtime.context
    if ctx.short_path and not ctx.approve_plan and is_short(read_contract(state.task)):
        return "plan_from_task"
    return "idea"


BUILD = ["coder", "validator"]
"""The Coder's first turn and the Validator's design, run at once."""


def after_planner(
    state: State, runtime: Runtime[Context]
) -> Literal["approve_plan"] | list[Literal["coder", "validator"]]:
    """Ask a human about the plan only when approval is on; else build and design at once."""
    return "approve_plan" if runtime.context.approve_plan else ["coder", "validator"]


def after_approval(
    state: State,
) -> Literal["planner", "report"] | list[Literal["coder", "validator"]]:
    """On to the Coder and Validator if approved, back to the Planner with feedback, else stop."""
    if state.approved:
        return ["coder", "validator"]
    return "planner" if state.plan_feedback else "report"


def after_coder(state: State) -> Literal["escalate", "run_tests"]:
    """An unusable answer moves the Coder up its chain; else the versions are tested.

    The tests were designed once, beside the Coder's first turn (a fix keeps them).
    """
    if state.coder_unusable and next_route(state) is not None:
        return "escalate"
    return "run_tests"


def after_tests(
    state: State, runtime: Runtime[Context]
) -> Literal["coder", "escalate", "security_scan"]:
    """Credible failures go back to the Coder while the route has fix rounds left.

    With `Context.staged` on, a route's first version that fails first brings its siblings
    (the other versions, beside the fix of its certain failures, in one turn).
    Credible: the task's names not kept, a failing example of the task, or a designed test
    some version passes (`codecheck.selection`). Still failing after that, the next route of
    the chain takes over, if there is one. When no test could run, only a broken contract (a
    file of the task not written, a name missing, code that does not parse) goes back: it is
    checked without running anything.
    """
    validation = state.validation
    if state.widen:
        return "coder"  # the first version failed: the others, beside its fix
    if validation.get("passed"):
        return "security_scan"
    if validation.get("sandbox") == "none" and (validation.get("contract") or {}).get("kept", True):
        return "security_scan"  # no test ran, and nothing else is known to be wrong
    if state.feedback and state.route_rounds < runtime.context.max_fix_rounds:
        return "coder"
    if next_route(state) is not None:
        return "escalate"
    return "security_scan"


def after_security(state: State, runtime: Runtime[Context]) -> Literal["coder", "report"]:
    """Blocking findings go back to the Coder while security rounds remain."""
    if state.security.get("verdict") != "block":
        return "report"
    if state.rounds.get("security", 0) < runtime.context.max_security_rounds:
        return "coder"
    return "report"


builder = StateGraph(State, context_schema=Context, input_schema=InputState)
builder.add_node("retrieve", retrieve)
builder.add_node("search_ingest", search_ingest)
builder.add_node("idea", idea)
builder.add_node("planner", planner)
builder.add_node("plan_from_task", plan_from_task)
builder.add_node("approve_plan", approve_plan)
builder.add_node("coder", coder)
builder.add_node("escalate", escalate)
builder.add_node("validator", validator)
builder.add_node("run_tests", run_tests)
builder.add_node("security_scan", security_scan)
builder.add_node("security", security)
builder.add_node("report", report)

builder.add_edge(START, "retrieve")
builder.add_conditional_edges(
    "retrieve", after_retrieve, ["search_ingest", "idea", "plan_from_task"]
)
builder.add_edge("plan_from_task", "coder")
builder.add_edge("plan_from_task", "validator")
builder.add_edge("search_ingest", "idea")
builder.add_edge("idea", "planner")
builder.add_conditional_edges("planner", after_planner, ["approve_plan", *BUILD])
builder.add_conditional_edges("approve_plan", after_approval, [*BUILD, "planner", "report"])
builder.add_conditional_edges("coder", after_coder, ["escalate", "run_tests"])
builder.add_edge("escalate", "coder")
builder.add_conditional_edges("run_tests", after_tests, ["coder", "escalate", "security_scan"])
builder.add_edge("security_scan", "security")
builder.add_conditional_edges("security", after_security, ["coder", "report"])
builder.add_edge("report", END)

graph = builder.compile(name="studio")


def build_graph(
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> CompiledStateGraph[State, Context, InputState, State]:
    """The studio graph with a checkpointer (e.g. `SqliteSaver`) for resumable threads."""
    return builder.compile(checkpointer=checkpointer, name="studio")


def run(
    inputs: InputState | dict[str, Any],
    context: Context | None = None,
    config: RunnableConfig | None = None,
) -> dict[str, Any]:
    """One run of `graph` on `context`, else on the defaults (`graphs.context.run_on_defaults`)."""
    return run_on_defaults(graph, Context, inputs, context, config)
