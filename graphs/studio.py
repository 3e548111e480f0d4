"""The studio graph: Idea -> Planner -> Coder -> Validator -> Security, wired.

retrieve -> [online and weak] search_ingest -> idea -> planner -> approve_plan ->
coder -> validator -> run_tests -> [credible failures, rounds left] coder | [still
failing, next route] escalate -> coder | security_scan -> security -> [blocking, rounds
left] coder | report.

`graph` is compiled without a checkpointer, for `langgraph dev` (which brings its own);
`build_graph(checkpointer=...)` gives the Python API resumable threads and the plan
approval interrupt. Input: `{"task": "..."}`; per-run settings: `context=Context(...)`.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agents.coder import coder
from agents.context import with_default_context
from agents.idea import idea
from agents.planner import planner
from agents.security import after_security, security
from agents.studio_context import Context
from agents.studio_state import InputState, State
from agents.validator import validator
from nodes.approval import after_approval, approve_plan
from nodes.bandit_scan import security_scan
from nodes.escalation import escalate
from nodes.report import report
from nodes.retrieve import retrieve
from nodes.search_ingest import needs_web, search_ingest
from nodes.test_run import after_tests, run_tests

builder = StateGraph(State, context_schema=Context, input_schema=InputState)
builder.add_node("retrieve", retrieve)
builder.add_node("search_ingest", search_ingest)
builder.add_node("idea", idea)
builder.add_node("planner", planner)
builder.add_node("approve_plan", approve_plan)
builder.add_node("coder", coder)
builder.add_node("validator", validator)
builder.add_node("run_tests", run_tests)
builder.add_node("escalate", escalate)
builder.add_node("security_scan", security_scan)
builder.add_node("security", security)
builder.add_node("report", report)

builder.add_edge(START, "retrieve")
builder.add_conditional_edges("retrieve", needs_web, {True: "search_ingest", False: "idea"})
builder.add_edge("search_ingest", "idea")
builder.add_edge("idea", "planner")
builder.add_edge("planner", "approve_plan")
builder.add_conditional_edges("approve_plan", after_approval)
builder.add_edge("coder", "validator")
builder.add_edge("validator", "run_tests")
builder.add_conditional_edges("run_tests", after_tests)
builder.add_edge("escalate", "coder")
builder.add_edge("security_scan", "security")
builder.add_conditional_edges("security", after_security)
builder.add_edge("report", END)

graph = with_default_context(builder.compile(name="studio"), Context)


def build_graph(
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> CompiledStateGraph[State, Context, InputState, State]:
    """The studio graph with a checkpointer (e.g. `SqliteSaver`) for resumable threads."""
    return with_default_context(builder.compile(checkpointer=checkpointer, name="studio"), Context)
