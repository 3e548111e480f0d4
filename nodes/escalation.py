"""The Coder's chain along the task router (task type `code`), and the step up it.

The chain starts with the Coder's configured model (its `AgentConfig`) and goes on with
whatever the routing table lists after it (`terraqore.client.router`). The router leaves out remote
endpoints unless online mode is on and the endpoint is allowed, so offline the chain stops
at the last local model, and the run's notes and report say what was skipped. The Coder
moves one step up (`escalate`, the one place it happens) when the tests still fail after the
route's fix rounds, or when its output was unusable after the retry or its call timed out
(`State.coder_unusable`); `graphs.studio` routes both here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from langgraph.runtime import Runtime

from graphs.context import AgentConfig
from graphs.studio_context import Context
from graphs.studio_state import State
from terraqore.client.router import Router, RouterSettings


def plan_routes(ctx: Context) -> dict[str, Any]:
    """The state fields of the Coder's chain: routes, what was skipped, the first route."""
    first = ctx.coder.model if ctx.coder.endpoint == "local" else None
    plan = Router(RouterSettings(online=ctx.online)).plan("code", first=first)
    routes = [str(r) for r in plan.routes]
    notes = []
    if plan.skipped:
        notes.append(f"the Coder's chain stops at {routes[-1]}; skipped: {'; '.join(plan.skipped)}")
    return {
        "coder_routes": routes,
        "coder_skipped": plan.skipped,
        "coder_route": routes[0],
        "notes": notes,
    }


def after(routes: list[str], route: str) -> str | None:
    """The route after `route` in the chain, or None at its end."""
    if route not in routes:
        return None
    i = routes.index(route)
    return routes[i + 1] if i + 1 < len(routes) else None


def next_route(state: State) -> str | None:
    """The route after the Coder's current one, or None at the chain's end."""
    return after(state.coder_routes, state.coder_route)


def route_config(route: str, base: AgentConfig) -> AgentConfig:
    """The Coder's config on a route: its model and endpoint, the base's other settings."""
    endpoint, _, model = route.partition(":")
    if (endpoint, model) == (base.endpoint, base.model):
        return base
    return replace(base, endpoint=endpoint, model=model)


def escalation(current: str, to: str, reason: str) -> tuple[dict[str, str], str]:
    """The record of one move up the chain, and the note that tells the user."""
    return {"from": current, "to": to, "reason": reason}, (
        f"escalated the Coder from {current} to {to}: {reason}"
    )


def escalate(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """The next route writes afresh: the Coder's answer was unusable, or tests still fail.

    An unusable answer keeps `feedback_kind` (the round it failed in is still the round the
    run is in: the Validator is not asked again); failing tests start the route anew.
    """
    to = next_route(state)
    if to is None:  # the graph only sends us here when there is a next route
        return {}
    if state.coder_unusable:
        reason = state.coder_unusable
        fresh = {"feedback": "", "coder_unusable": ""}
    else:
        failing = state.validation.get("tests_run", 0) - state.validation.get("tests_passed", 0)
        reason = f"{failing} test(s) still failing after {state.route_rounds} fix round(s)"
        fresh = {"feedback": "", "feedback_kind": ""}
    move, note = escalation(state.coder_route, to, reason)
    return {
        "coder_route": to,
        "route_rounds": 0,
        "escalations": [*state.escalations, move],
        **fresh,
        "notes": [note],
    }
