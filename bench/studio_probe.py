"""Probe the studio's parts one task at a time, to see where a loop can gain before wiring it.

For each task: the graph's front half (retrieve, idea, planner), then several Coder candidates
(the single-call prompt, the graph's first prompt at the Coder's temperature, and samples at a
higher temperature), then the Validator's designed tests once. Every candidate runs against
the designed tests and against the hidden reference tests, and the designed tests run against
`reference.py`, so a designed test's correctness is known. The hidden tests and the reference
are only read here, for the analysis; no agent sees them.

    flock /tmp/terraqore-model.lock python bench/studio_probe.py run --tasks 01 02 --samples 2
    python bench/studio_probe.py report
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.studio import COMMIT, hidden_tests, single, tasks, warm_up

RESULTS = Path(__file__).with_name("results") / "studio_probe.jsonl"


def designed_outcomes(tests: list[dict[str, str]], files: dict[str, str]) -> dict[str, str]:
    """Each designed test's outcome on these files (sandboxed)."""
    from terraqore.codecheck.sandbox import run_pytest
    from terraqore.codecheck.test_file import TEST_FILE, render_tests

    if not tests or not files:
        return {}
    result = run_pytest({**files, TEST_FILE: render_tests(tests, files)}, [TEST_FILE])
    return {t.id.split("::")[-1]: t.outcome for t in result.tests}


def front_half(text: str) -> dict[str, Any]:
    from langgraph.checkpoint.memory import InMemorySaver

    from graphs.studio import build_graph
    from graphs.studio_context import Context

    app = build_graph(InMemorySaver())
    config = {"configurable": {"thread_id": "probe"}}
    return dict(app.invoke({"task": text}, config, context=Context(), interrupt_before=["coder"]))


def probe(task: Path, samples: int, temperature: float) -> dict[str, Any]:
    from dataclasses import replace

    from agents.coder import write_code
    from agents.validator import validator
    from graphs.studio_context import Context
    from graphs.studio_state import State

    text = (task / "task.md").read_text()
    start = time.perf_counter()
    front = front_half(text)
    state = State(task=text, idea=front.get("idea"), plan=front.get("plan"))
    ctx = Context()
    candidates: list[dict[str, Any]] = []

    def add(kind: str, make) -> None:
        t0 = time.perf_counter()
        try:
            files, usage = make()
        except Exception as exc:  # an unusable answer is a data point
            files, usage = {}, []
            kind += f" (error: {type(exc).__name__})"
        candidates.append(
            {
                "kind": kind,
                "files": files,
                "seconds": round(time.perf_counter() - t0, 1),
                "output_tokens": sum(u["output_tokens"] for u in usage),
            }
        )

    add("single", lambda: single(text, "fenced"))
    add("plan", lambda: write_code(state, ctx))
    hot = replace(ctx, coder=replace(ctx.coder, temperature=temperature))
    for i in range(samples):
        add(f"plan-t{temperature}-{i}", lambda: write_code(state, hot))
    t0 = time.perf_counter()

    class _Runtime:
        context = ctx

    design = validator(state, _Runtime())  # type: ignore[arg-type]
    tests = design.get("designed_tests", [])
    validator_seconds = round(time.perf_counter() - t0, 1)
    reference = {"solution.py": (task / "reference.py").read_text()}
    for c in candidates:
        c["hidden"] = hidden_tests(task, c["files"]) if c["files"] else {"solved": False}
        c["designed"] = designed_outcomes(tests, c["files"])
    return {
        "task": task.name,
        "commit": COMMIT,
        "plan": front.get("plan"),
        "tests": tests,
        "reference_on_tests": designed_outcomes(tests, reference),
        "candidates": candidates,
        "validator_seconds": validator_seconds,
        "seconds": round(time.perf_counter() - start, 1),
    }


def pending_tasks(results: Path, names: list[str] | None) -> list[Path]:
    """The tasks with no record in `results` yet (a run resumes where it stopped)."""
    results.parent.mkdir(parents=True, exist_ok=True)
    have = set()
    if results.is_file():
        have = {json.loads(line)["task"] for line in results.read_text().splitlines()}
    todo = [t for t in tasks(names) if t.name not in have]
    if not todo:
        print("nothing left to run")
    return todo


def cmd_run(args: argparse.Namespace) -> None:
    todo = pending_tasks(args.results, args.tasks)
    if not todo:
        return
    warm_up()
    for task in todo:
        record = probe(task, args.samples, args.temperature)
        with args.results.open("a") as f:
            f.write(json.dumps(record) + "\n")
        solved = "".join("1" if c["hidden"]["solved"] else "0" for c in record["candidates"])
        good = sum(o == "passed" for o in record["reference_on_tests"].values())
        print(
            f"{task.name:<22} solved={solved} designed tests right={good}/{len(record['tests'])}"
            f" {record['seconds']:.0f}s",
            flush=True,
        )


def cmd_report(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    for r in rows:
        ref = r["reference_on_tests"]
        print(
            f"\n{r['task']}: designed tests right {sum(o == 'passed' for o in ref.values())}/{len(r['tests'])}"
        )
        for t in r["tests"]:
            print(f"   {t['name']}: {t['code'][:110]!r}")
        print("   reference:", ref)
        for c in r["candidates"]:
            d = c["designed"]
            print(
                f"  {c['kind']:<18} hidden={c['hidden'].get('hidden_passed')}/{c['hidden'].get('hidden_run')}"
                f" solved={c['hidden']['solved']!s:<5} designed={sum(o == 'passed' for o in d.values())}/{len(d)}"
                f" {c['seconds']}s {c['output_tokens']}tok"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "report"):
        p = sub.add_parser(name)
        p.add_argument("--results", type=Path, default=RESULTS)
        p.add_argument("--tasks", nargs="*", default=None)
        p.add_argument("--samples", type=int, default=3)
        p.add_argument("--temperature", type=float, default=0.8)
    args = parser.parse_args()
    {"run": cmd_run, "report": cmd_report}[args.command](args)


if __name__ == "__main__":
    main()
