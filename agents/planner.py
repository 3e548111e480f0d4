"""The Planner agent: breaks the idea into files, ordered steps, acceptance criteria and tests.

The task's contract (`codecheck.task_contract`: the names and files the task fixes) is read here,
where it is first needed, and the plan is held to it before anyone reads the plan.
"""

from __future__ import annotations

import re
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agents.idea import Short
from agents.structured import Unusable, ask_structured
from agents.studio_prompts import contract_section, sources_section, task_section
from graphs.studio_context import Context
from graphs.studio_state import State
from terraqore.codecheck.contract_check import correct_names, correct_plan
from terraqore.codecheck.task_contract import describe, read_contract

PROMPT = """{sources}

{task}
{names}
<IDEA>
{idea}
</IDEA>
{feedback}
<INSTRUCTIONS>
Plan the Python code for this idea: the files to write (keep every file and function name
the task gives, exactly), two to five ordered steps (each a short sentence), the acceptance
criteria, and the tests to write, each as a call of the task's own function with its
expected result. Standard library only.
</INSTRUCTIONS>"""


class PlannedFile(BaseModel):
    """A file the Coder will write."""

    path: str = Field(description="Relative path, e.g. solution.py.", max_length=80)
    purpose: str = Field(description="What the file holds: its functions.", max_length=300)


class Plan(BaseModel):
    """The plan: what to write, in what order, and how to check it."""

    files: list[PlannedFile] = Field(min_length=1, max_length=6)
    steps: list[Short] = Field(description="Short, ordered actions.", min_length=1, max_length=5)
    acceptance: list[Short] = Field(description="Acceptance criteria.", min_length=1, max_length=5)
    tests: list[Short] = Field(
        description="Tests to write: input -> expected result.", min_length=1, max_length=6
    )


def _check(plan: Plan) -> str | None:
    if not any(f.path.strip().endswith(".py") for f in plan.files):
        return "no Python file is planned; name the .py files to write"
    if not [s for s in plan.steps if s.strip()]:
        return "the plan has no steps; give two to five ordered steps"
    if not [t for t in plan.tests if t.strip()]:
        return "the plan has no tests; give each test's input and expected result"
    return None


def planner(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Plan the idea (again, with the human's feedback, if the plan was rejected)."""
    contract = read_contract(state.task)
    # The brief too may have renamed the task's function: the Planner reads it as given.
    idea, idea_notes = correct_names(state.idea or {}, contract, "idea brief")
    summary = f"{idea.get('title', '')}: {idea.get('summary', '')}"
    done = "\n".join(f"- {d}" for d in idea.get("done_when", []))
    feedback = (
        f"\n<REVIEWER_FEEDBACK>\n{state.plan_feedback}\n</REVIEWER_FEEDBACK>\n"
        if state.plan_feedback
        else ""
    )
    prompt = PROMPT.format(
        task=task_section(state.task),
        names=contract_section(contract),
        idea=f"{summary}\nDone when:\n{done}",
        sources=sources_section(state.sources),
        feedback=feedback,
    )
    try:
        plan, usage = ask_structured(
            "planner", runtime.context.planner, [HumanMessage(content=prompt)], Plan, _check
        )
    except Unusable as exc:
        # The Coder can work from the task alone; one weak answer should not end the run.
        fallback, notes = correct_plan(fallback_plan(state.task).model_dump(), contract)
        return {
            "plan": fallback,
            "idea": idea or state.idea,
            "contract": contract,
            "notes": [*idea_notes, f"{exc}; a one-step plan stands in", *notes],
        }
    # The task's names win over the plan's: the Coder and the Validator read the plan.
    corrected, notes = correct_plan(plan.model_dump(), contract)
    return {
        "plan": corrected,
        "idea": idea or state.idea,
        "contract": contract,
        "usage": usage,
        "notes": [*idea_notes, *notes],
    }


def plan_from_task(state: State) -> dict[str, Any]:
    """The short path's plan, without a model: the task's one function, in its one file.

    For a task that fixes one name (`task_contract.is_short`), the Idea's brief and the
    Planner's steps only restate it, and each cost a model call; the Coder and the
    Validator read the task in full either way.
    """
    contract = read_contract(state.task)
    plan, notes = correct_plan(fallback_plan(state.task).model_dump(), contract)
    first = state.task.strip().splitlines()[0] if state.task.strip() else ""
    idea = {
        "title": ", ".join(describe(contract)[:1]) or "the task",
        "summary": first[:500],
        "users": "",
        "done_when": ["The task's examples and tests pass."],
        "assumptions": [],
    }
    return {
        "plan": plan,
        "idea": idea,
        "contract": contract,
        "short": True,
        "notes": ["a short task: the plan was read from the task, no Idea or Planner call", *notes],
    }


def fallback_plan(task: str) -> Plan:
    """One step: do the task, in the file it names (else `solution.py`).

    Its items stay within the plan's bounds whatever the task's length (the task itself
    reaches the Coder in full).
    """
    named = re.findall(r"[\w/]+\.py\b", task)
    path = named[0] if named and len(named[0]) <= 80 else "solution.py"
    return Plan(
        files=[PlannedFile(path=path, purpose="the code the task asks for")],
        steps=["Implement the task as written."],
        acceptance=["Everything the task asks for works as it says."],
        tests=["The examples the task gives."],
    )
