"""The Idea agent: turns the user's rough request into one clear, buildable brief."""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agents.structured import Unusable, ask_structured
from agents.studio_prompts import sources_section, task_section
from graphs.studio_context import Context
from graphs.studio_state import State

PROMPT = """{sources}

{task}

<INSTRUCTIONS>
Turn the task into one small, buildable Python project. Keep every name, file name and
function signature the task gives exactly as written. Say who it is for, what done looks
like (checkable statements), and any assumption you made.
</INSTRUCTIONS>"""


TITLE_CHARS, TITLE_WORDS, SUMMARY_CHARS = 120, 8, 500
"""Bounds of the brief's title and summary (the grammar enforces them on the model's answer;
the fallback brief is cut to them)."""

Short = Annotated[str, Field(max_length=200)]
"""One list item: bounded, so a small model cannot ramble (the grammar enforces it)."""


class IdeaBrief(BaseModel):
    """What will be built, for whom, and how we know it is done."""

    title: str = Field(description="A short name for the project.", max_length=TITLE_CHARS)
    summary: str = Field(
        description="What will be built, in two or three sentences.", max_length=SUMMARY_CHARS
    )
    users: str = Field(description="Who uses it.", max_length=160)
    done_when: list[Short] = Field(
        description="Checkable statements of done.", min_length=1, max_length=6
    )
    assumptions: list[Short] = Field(
        description="Assumptions made about a vague request.", max_length=4
    )


def _check(brief: IdeaBrief) -> str | None:
    if len(brief.summary.split()) < 4:
        return "the summary is empty; say in two or three sentences what will be built"
    if not brief.done_when:
        return "done_when is empty; list checkable statements of done"
    return None


def idea(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Write the idea brief for the task."""
    prompt = PROMPT.format(task=task_section(state.task), sources=sources_section(state.sources))
    try:
        brief, usage = ask_structured(
            "idea", runtime.context.idea, [HumanMessage(content=prompt)], IdeaBrief, _check
        )
    except Unusable as exc:
        # The task itself is a usable brief; one weak answer should not end the run.
        fallback = fallback_brief(state.task)
        return {"idea": fallback.model_dump(), "notes": [f"{exc}; the task is the brief"]}
    return {"idea": brief.model_dump(), "usage": usage}


def fallback_brief(task: str) -> IdeaBrief:
    """A brief made of the task's own words."""
    words = task.split()
    title = " ".join(words[:TITLE_WORDS]) + ("..." if len(words) > TITLE_WORDS else "")
    # Bounded like the model's answer: the task itself reaches every agent in full anyway.
    cut = task[: SUMMARY_CHARS - len("...")].rsplit(" ", 1)[0] + "..."
    summary = task if len(task) <= SUMMARY_CHARS else cut
    return IdeaBrief(
        title=title[:TITLE_CHARS],
        summary=summary,
        users="the user",
        done_when=["Everything the task asks for works as it says."],
        assumptions=[],
    )
