"""The Idea agent: turns the user's rough request into one clear, buildable brief."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agents.structured import ask_structured
from agents.studio_context import Context
from agents.studio_prompts import sources_section, task_section
from agents.studio_state import State

PROMPT = """{task}

{sources}

<INSTRUCTIONS>
Turn the task into one small, buildable Python project. Keep every name, file name and
function signature the task gives exactly as written. Say who it is for, what done looks
like (checkable statements), and any assumption you made.
</INSTRUCTIONS>"""


class IdeaBrief(BaseModel):
    """What will be built, for whom, and how we know it is done."""

    title: str = Field(description="A short name for the project.", max_length=120)
    summary: str = Field(description="What will be built, in two or three sentences.")
    users: str = Field(description="Who uses it.")
    done_when: list[str] = Field(description="Checkable statements of done.", max_length=8)
    assumptions: list[str] = Field(description="Assumptions made about a vague request.")


def _check(brief: IdeaBrief) -> str | None:
    if len(brief.summary.split()) < 4:
        return "the summary is empty; say in two or three sentences what will be built"
    if not brief.done_when:
        return "done_when is empty; list checkable statements of done"
    return None


def idea(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Write the idea brief for the task."""
    prompt = PROMPT.format(task=task_section(state.task), sources=sources_section(state.sources))
    brief, usage = ask_structured(
        "idea", runtime.context.idea, [HumanMessage(content=prompt)], IdeaBrief, _check
    )
    return {"idea": brief.model_dump(), "usage": usage}
