"""The run's report: what was built, how it was tested, what the review found, in Markdown.

When the code ran unsandboxed (`audit-hook`, asked for by name), its first line says so.
Then it opens with the outcome a user acts on (`outcome`): the task's names and whether the
chosen code keeps them, what works, and which failing tests were doubted and why.

The CLI writes it next to the project (`REPORT.md`); it is also the `report` field of the
graph's output. Usage is summed per agent from the run's usage records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from graphs.state import UsageRecord
from graphs.studio_state import State
from terraqore.codecheck.display import one_line
from terraqore.codecheck.reach import partly, unreached
from terraqore.codecheck.task_contract import describe


def code(text: object) -> str:
    """`text` as a Markdown code span that stays one span, on one line, whatever it holds.

    Test ids, names and paths come from generated code, so they may hold a backtick (which
    would end the span), a newline (a new paragraph, heading or link) or a control or
    bidirectional character. Each such character is shown as its Python escape; in a code
    span a backslash is literal, so nothing is hidden and nothing is read as Markdown.
    """
    return f"`{one_line(text, also='`')}`"


def usage_by_agent(usage: Sequence[UsageRecord]) -> dict[str, dict[str, Any]]:
    """Calls, tokens and seconds per agent, in the order agents first ran."""
    totals: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"model": "", "calls": 0, "prompt_tokens": 0, "output_tokens": 0, "seconds": 0.0}
    )
    for record in usage:
        row = totals[record["agent"]]
        row["model"] = record["model"]
        row["calls"] += 1
        row["prompt_tokens"] += record["prompt_tokens"]
        row["output_tokens"] += record["output_tokens"]
        row["seconds"] = round(row["seconds"] + record["seconds"], 3)
    return dict(totals)


Outcome = Literal["pass", "doubted", "untested", "fail"]


def outcome(validation: Mapping[str, Any], security: Mapping[str, Any]) -> Outcome:
    """What a build comes to, for the report and the exit status.

    `pass`: the tests ran and passed, the task's names are kept, the gate let the code
    through. `doubted`: the same, but for failing tests that are all doubted (no version
    passed them and they restate no example of the task: a small Validator's wrong
    expectations, more often than not). `untested`: either of those, but no test called a
    function the task names, so nothing shows that it works (`codecheck.reach`). `fail`:
    anything else.
    """
    if validation.get("sandbox", "none") == "none" or security.get("verdict") != "pass":
        return "fail"
    if validation.get("passed"):
        return "untested" if validation.get("untested") else "pass"
    failing = {f["test"] for f in validation.get("failures", [])}
    if not failing or not failing <= set(validation.get("doubted", [])):
        return "fail"
    return "untested" if validation.get("untested") else "doubted"


_SAYS = {
    "pass": "**Works**: every test ran and passed, and the code keeps the task's names.",
    "doubted": (
        "**Works, with doubts**: every credible test passed; the only failures are tests"
        " doubted below."
    ),
    "untested": (
        "**Not shown to work**: the tests pass, but none of them called what the task asked for."
    ),
    "fail": "**Does not work yet**: see what failed below.",
}


def _result(state: State) -> list[str]:
    """The report's opening: the contract, what works, what was doubted and why."""
    v, contract = state.validation, state.validation.get("contract") or {}
    lines = [_SAYS[outcome(v, state.security)], ""]
    names = describe(state.contract)
    if names:
        shown = ", ".join(code(n) for n in names)
        if contract.get("kept", True):
            lines.append(f"- The task's names: {shown}; the chosen code keeps them.")
        else:
            broken = "; ".join(contract.get("broken", []))
            lines.append(
                f"- The task's names: {shown}; the chosen code does NOT keep them: {broken}."
            )
    else:
        lines.append("- The task fixes no function, class, file or command name.")
    if v.get("tests_run"):
        works = f"- Works: {v.get('tests_passed', 0)} of {v['tests_run']} tests pass"
        if v.get("stated_run"):
            works += f", the task's own examples {v['stated_passed']} of {v['stated_run']}"
        lines.append(works + ".")
    if v.get("untested"):
        lines.append(
            "- Untested: no test called "
            + ", ".join(code(n) for n in v["untested"])
            + " (in the test process; a CLI a test starts as a subprocess is not counted)."
        )
    found = v.get("reach") or []
    others = [n for n in unreached(found) if n not in v.get("untested", [])]
    if others:
        lines.append("- No test reached: " + ", ".join(code(n) for n in others) + ".")
    if partly(found):
        lines.append("- Partly reached: " + ", ".join(partly(found)) + ".")
    doubted = v.get("doubted", [])
    if doubted:
        lines.append(
            f"- Doubted ({len(doubted)}): no version passed them and they restate no example"
            " of the task, so they were not sent back to the Coder: "
            + ", ".join(code(t.split("::")[-1]) for t in doubted)
            + "."
        )
    credible = [f["test"] for f in v.get("failures", []) if f["test"] not in doubted]
    if credible and v.get("sandbox", "none") != "none":
        lines.append("- Failing: " + ", ".join(code(t.split("::")[-1]) for t in credible) + ".")
    return lines


def _validation(v: dict[str, Any]) -> list[str]:
    if not v:
        return ["No tests ran."]
    status = "passed" if v.get("passed") else "FAILED"
    lines = [
        f"{status}: {v.get('tests_passed', 0)} of {v.get('tests_run', 0)} tests passed "
        f"in {v.get('seconds', 0)} s.",
        f"Sandbox: {v.get('sandbox', 'none')}.",
    ]
    if v.get("stated_run"):
        lines.append(
            f"The task's own examples, restated as tests: {v['stated_passed']} of"
            f" {v['stated_run']} passed."
        )
    doubted = set(v.get("doubted", []))
    lines += [
        f"- {code(f['test'])}"
        + (
            " (doubted: no version passed it and it restates no example of the task)"
            if f["test"] in doubted
            else ""
        )
        for f in v.get("failures", [])[:10]
    ]
    return lines


def _security(s: dict[str, Any]) -> list[str]:
    lines = [f"Verdict: **{s.get('verdict', 'not reviewed')}** (gate: {s.get('gate', [])})."]
    for f in s.get("findings", []):
        lines.append(f"- [{f['severity']}] {code(f['location'])} ({f['source']}): {f['issue']}")
    return lines


def _coder(state: State) -> list[str]:
    """How the code was chosen: the candidates, the chain, what escalated and what wrote it."""
    chosen = next((c for c in state.candidates if c["id"] == state.selected), None)
    lines = [
        f"{len(state.candidates)} candidate(s) written; the tests chose"
        + (f" #{chosen['id']} ({chosen['origin']}) from {chosen['route']}." if chosen else " none.")
    ]
    if state.coder_routes:
        lines.append(f"Chain: {' → '.join(state.coder_routes)}.")
    if state.coder_skipped:
        lines.append(
            f"The chain stops at {state.coder_routes[-1]}; skipped: "
            + "; ".join(state.coder_skipped)
            + "."
        )
    lines += [
        f"- escalated from {e['from']} to {e['to']}: {e['reason']}" for e in state.escalations
    ]
    return lines


UNSANDBOXED_LINE = (
    "> **UNSANDBOXED**: the generated code ran without a sandbox (`audit-hook`, asked for by"
    " name); it could read and write whatever its user may.\n"
)


def render(state: State) -> str:
    """The report in Markdown."""
    idea = state.idea or {}
    plan = state.plan or {}
    parts = [f"# {idea.get('title') or 'Studio run'}", "", f"Task: {state.task}", ""]
    if str(state.validation.get("sandbox", "")).startswith("UNSANDBOXED"):
        # Asked for by name (`--sandbox audit-hook`): said before anything else.
        parts.insert(0, UNSANDBOXED_LINE)
    parts += [*_result(state), ""]
    summary = str(idea.get("summary", "")).strip()
    if summary and summary not in state.task:  # the short path's summary is the task's text
        parts += [summary, ""]
    if plan:
        parts += ["## Plan", ""] + [f"{i}. {s}" for i, s in enumerate(plan.get("steps", []), 1)]
        parts.append("")
    parts += ["## Files", ""] + [
        f"- {code(p)}" for p in sorted({**state.files, **state.test_files})
    ]
    parts += ["", "## Coder", "", *_coder(state)]
    parts += ["", "## Tests", "", *_validation(state.validation), "", "## Security", ""]
    parts += [*_security(state.security), "", "## Rounds", ""]
    parts += [f"- {kind}: {n}" for kind, n in state.rounds.items()]
    if state.sources:
        parts += ["", "## Sources", ""]
        parts += [f"[{s['n']}] {s['title']} ({s['url']})" for s in state.sources]
    parts += ["", "## Usage", "", "| agent | model | calls | prompt | output | seconds |"]
    parts.append("|---|---|---|---|---|---|")
    for agent, u in usage_by_agent(state.usage).items():
        parts.append(
            f"| {agent} | {u['model']} | {u['calls']} | {u['prompt_tokens']} | "
            f"{u['output_tokens']} | {u['seconds']} |"
        )
    if state.notes:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in state.notes]
    return "\n".join(parts) + "\n"


def report(state: State) -> dict[str, Any]:
    """Write the report, and every output key (a channel never written is not in the output)."""
    return {
        "report": render(state),
        "idea": state.idea,
        "plan": state.plan,
        "files": state.files,
        "test_files": state.test_files,
        "validation": state.validation,
        "security": state.security,
        "sources": state.sources,
        "searched_web": state.searched_web,
        "rounds": state.rounds,
        "candidates": state.candidates,
        "selected": state.selected,
        "coder_routes": state.coder_routes,
        "coder_skipped": state.coder_skipped,
        "escalations": state.escalations,
        "code_route": state.code_route,
    }
