"""The Coder agent: writes the project's files from the plan, and fixes them from feedback.

It answers in one of two formats (`Context.coder_format`): fenced blocks, one ```python
block per file whose first line names the file, or JSON (`{"files": [{"path", "content"}]}`)
constrained by the server's grammar. Code escaped inside JSON strings is harder for a
small model, which is why both exist; the benchmark measures them (see the README).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agents.structured import AgentOutputError, ask_structured, ask_text
from agents.studio_context import Context
from agents.studio_prompts import code_section, plan_section, sources_section, task_section
from agents.studio_state import State
from nodes.project_files import ProjectFileError, checked_files

FORMATS = {
    "fenced": (
        "Answer with one ```python block per file. The first line of each block is a comment "
        "naming the file, e.g. `# solution.py`. No other text."
    ),
    "json": "Answer with the JSON object: each file's path and its full content.",
}

FIRST = """{sources}

{task}

{plan}

<INSTRUCTIONS>
Write the complete code for the plan. Keep every file, function and class name the task
gives exactly. Standard library only. One-line docstrings. Write no tests (the Validator
writes them) and no explanations.
{format}
</INSTRUCTIONS>"""

FIX = """{sources}

{task}

{plan}

{code}

<PROBLEMS>
{feedback}
</PROBLEMS>

<INSTRUCTIONS>
Fix every problem listed. If a test expects something the task does not ask for, keep
to the task. Write every file you change in full; files you leave out stay as they are.
{format}
</INSTRUCTIONS>"""

_FENCE = re.compile(r"```[ \t]*([\w+.-]*)[ \t]*([^\n`]*)\n(.*?)(?:```|\Z)", re.DOTALL)
_NAME_COMMENT = re.compile(r"^\s*#\s*(?:file(?:name)?\s*:\s*)?([\w./-]+\.py)\s*$", re.IGNORECASE)
_NAME_BEFORE = re.compile(r"([\w./-]+\.py)\W*$")


class CodeFile(BaseModel):
    """One file the Coder writes."""

    path: str = Field(max_length=80)
    content: str


class CoderFiles(BaseModel):
    """The Coder's answer in JSON form."""

    files: list[CodeFile] = Field(min_length=1, max_length=8)


def parse_fenced(text: str, default_module: str = "solution.py") -> dict[str, str]:
    """Files from fenced blocks; a block's name comes from its first line, info or caption.

    Unnamed blocks become the default module (or a test file, if they hold tests). A block
    cut off by the token cap is kept up to where it stopped.
    """
    files: dict[str, str] = {}
    for match in _FENCE.finditer(text):
        lang, info, body = match.group(1), match.group(2).strip(), match.group(3)
        if lang and lang.lower() not in ("python", "py", "python3") and not lang.endswith(".py"):
            continue
        lines = body.splitlines()
        name = lang if lang.endswith(".py") else (info if info.endswith(".py") else "")
        if not name and lines and (m := _NAME_COMMENT.match(lines[0])):
            name, lines = m.group(1), lines[1:]
        if not name and (m := _NAME_BEFORE.search(text[: match.start()].rstrip()[-80:])):
            name = m.group(1)
        if not name:
            is_test = "def test_" in body
            name = f"test_{default_module}" if is_test else default_module
        files[name.lstrip("./")] = "\n".join(lines).strip("\n") + "\n"
    return files


def _default_module(plan: Mapping[str, Any] | None) -> str:
    paths = [f["path"] for f in (plan or {}).get("files", [])]
    code = [p for p in paths if p.endswith(".py") and not p.split("/")[-1].startswith("test_")]
    return code[0] if code else "solution.py"


def _prompt(state: State, fmt: str) -> str:
    common = {
        "task": task_section(state.task),
        "plan": plan_section(state.plan),
        "sources": sources_section(state.sources),
        "format": FORMATS[fmt],
    }
    if state.feedback and state.files:
        return FIX.format(code=code_section(state.files), feedback=state.feedback, **common)
    return FIRST.format(**common)


def write_code(state: State, ctx: Context) -> tuple[dict[str, str], list[Any]]:
    """Ask the Coder's model for the files; return them (checked) and the usage records."""
    messages = [HumanMessage(content=_prompt(state, ctx.coder_format))]
    if ctx.coder_format == "json":
        answer, usage = ask_structured("coder", ctx.coder, messages, CoderFiles)
        files = {f.path: f.content for f in answer.files}
    else:
        text, record = ask_text("coder", ctx.coder, messages)
        files, usage = parse_fenced(text, _default_module(state.plan)), [record]
    try:
        return checked_files(files), usage
    except ProjectFileError as exc:
        raise AgentOutputError(f"the coder wrote an unusable file map: {exc}") from exc


def coder(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Write the code, or rewrite it to fix the feedback; count the round."""
    new_files, usage = write_code(state, runtime.context)
    rounds = dict(state.rounds)
    if state.feedback_kind == "tests":
        rounds["fix"] = rounds.get("fix", 0) + 1
    elif state.feedback_kind == "security":
        rounds["security"] = rounds.get("security", 0) + 1
    # A fix round may send only the files it changed; the others stay.
    files = new_files
    if state.feedback:
        try:
            files = checked_files({**state.files, **new_files})
        except ProjectFileError:
            files = new_files
    notes = [] if new_files else ["the coder returned no code block in one round"]
    return {"files": files, "rounds": rounds, "usage": usage, "notes": notes}
