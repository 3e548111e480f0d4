"""The Security agent: reviews the code for what bandit cannot see, and applies the gate.

bandit (`nodes.bandit_scan`) finds known-dangerous calls. The model looks for the rest:
secrets in code, injection built from input, unsafe deserialisation, path traversal. A
finding must name a file and line that exist, or it is dropped (a small model sometimes
invents them). The gate (`Context.block_severities`) decides which findings block: blocking
findings send the code back to the Coder while security rounds remain, and otherwise make
the verdict `block`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agents.structured import Unusable, ask_structured
from agents.studio_prompts import sources_section, task_section
from graphs.studio_context import Context
from graphs.studio_state import State

PROMPT = """{sources}

{task}

<CODE>
{code}
</CODE>

<BANDIT_FINDINGS>
{bandit}
</BANDIT_FINDINGS>

<INSTRUCTIONS>
Review the code for security problems that static analysis misses: secrets or passwords
in the code, shell, SQL or path injection built from input, unsafe deserialisation
(pickle, yaml.load, eval), path traversal, unbounded resource use on untrusted input.
Report only real problems you can point to, as file:line from the numbered code. Severity:
high if an attacker can exploit it, medium if it needs unusual input, low otherwise. No
problems means an empty list.
</INSTRUCTIONS>"""


class Finding(BaseModel):
    """One security problem."""

    severity: Literal["low", "medium", "high"]
    location: str = Field(description="file:line, e.g. solution.py:12", max_length=100)
    issue: str = Field(description="What is wrong and why it is a risk.", max_length=400)
    fix: str = Field(description="How to fix it.", max_length=400)


class Review(BaseModel):
    """The review's findings (empty when the code is fine)."""

    findings: list[Finding] = Field(max_length=6)


def numbered(files: Mapping[str, str]) -> str:
    """The code with `path:line` numbers, so findings can cite lines."""
    out = []
    for path, text in files.items():
        out.append(f"# file: {path}")
        out += [f"{n:>4}| {line}" for n, line in enumerate(text.splitlines(), 1)]
    return "\n".join(out)


def grounded(location: str, files: Mapping[str, str]) -> str | None:
    """The location normalised to `path:line` if that file and line exist, else None."""
    path, _, line = location.strip().rpartition(":")
    if not path or not line.strip().isdigit() or path.strip() not in files:
        return None
    number = int(line)
    return (
        f"{path.strip()}:{number}" if 1 <= number <= len(files[path.strip()].splitlines()) else None
    )


def blocking(findings: Sequence[Mapping[str, Any]], severities: Sequence[str]) -> list[Any]:
    """The findings the gate blocks on (bandit's low-confidence guesses never block)."""
    return [f for f in findings if f["severity"] in severities and f.get("confidence") != "low"]


def review(state: State, ctx: Context) -> tuple[list[dict[str, Any]], list[Any], list[str]]:
    """The model's grounded findings, its usage records and notes on what was dropped."""
    code_files = {p: t for p, t in state.files.items() if p.endswith(".py")}
    bandit = state.security.get("findings", [])
    listed = "\n".join(f"- {f['location']} [{f['severity']}] {f['issue']}" for f in bandit)
    prompt = PROMPT.format(
        task=task_section(state.task),
        code=numbered(code_files),
        bandit=listed or "(none)",
        sources=sources_section(state.sources),
    )
    try:
        answer, usage = ask_structured(
            "security", ctx.security, [HumanMessage(content=prompt)], Review
        )
    except Unusable as exc:
        return [], [], [f"the security review gave no usable answer ({exc}); bandit's stand"]
    findings, dropped = [], 0
    seen = {f["location"] for f in bandit}
    for finding in answer.findings:
        where = grounded(finding.location, code_files)
        if where is None:
            dropped += 1
            continue
        if where in seen:
            continue  # bandit already reported this line
        findings.append({**finding.model_dump(), "location": where, "source": "review"})
    notes = [f"{dropped} review finding(s) cited no real line and were dropped"] if dropped else []
    return findings, usage, notes


def security(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Review the code, merge with bandit's findings, and give the gate's verdict."""
    ctx = runtime.context
    findings = list(state.security.get("findings", []))
    usage: list[Any] = []
    notes: list[str] = []
    if ctx.llm_review:
        extra, usage, notes = review(state, ctx)
        findings += extra
    blockers = blocking(findings, ctx.block_severities)
    feedback = "\n".join(
        f"- {f['location']} [{f['severity']}] {f['issue']}"
        + (f" Fix: {f['fix']}" if f.get("fix") else "")
        for f in blockers
    )
    return {
        "security": {
            "findings": findings,
            "verdict": "block" if blockers else "pass",
            "gate": list(ctx.block_severities),
        },
        # A blocked candidate is chosen again only if nothing else is left (codecheck.selection).
        "blocked": [*state.blocked, state.selected] if blockers else state.blocked,
        "feedback": f"Security review (must fix):\n{feedback}" if blockers else "",
        "feedback_kind": "security" if blockers else "",
        "usage": usage,
        "notes": notes,
    }
