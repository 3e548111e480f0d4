"""Optional human approval of the plan: a LangGraph `interrupt` after the Planner.

Reached only when `Context.approve_plan` is set (the graph skips it otherwise). The run
pauses with the plan as the interrupt's value and resumes with `Command(resume=...)`: `True`
(go on), `False` (stop here, the report says so), a string (feedback: the Planner plans
again with it), or a dict `{"approved": bool, "feedback": str}`. It needs a checkpointer
(`build_graph`).
"""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from graphs.studio_state import State


def _decision(answer: Any) -> tuple[bool, str]:
    """(approved, feedback) from whatever the human resumed with."""
    if isinstance(answer, dict):
        return bool(answer.get("approved", False)), str(answer.get("feedback") or "")
    if isinstance(answer, str):
        text = answer.strip()
        if text.lower() in ("", "y", "yes", "ok", "approve", "approved"):
            return True, ""
        return (False, "") if text.lower() in ("n", "no", "stop") else (False, text)
    return bool(answer), ""


def approve_plan(state: State) -> dict[str, Any]:
    """Pause for a human's decision on the plan."""
    approved, feedback = _decision(interrupt({"task": state.task, "plan": state.plan}))
    if approved:
        return {"approved": True, "plan_feedback": ""}
    note = "the plan was rejected with feedback" if feedback else "the plan was rejected"
    return {"approved": False, "plan_feedback": feedback, "notes": [note]}
