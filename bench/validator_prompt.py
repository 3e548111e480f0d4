"""The Validator's prompt, measured alone: are the tests it designs right, and do they catch?

For each task, the graph's front half (retrieve, idea, planner) runs once; then the Validator
designs tests from that same plan once per prompt variant (its model runs at temperature 0, so
one call per variant is its answer). Each variant's tests run in the sandbox:
- against `reference.py`, a solution that passes the hidden tests: a designed test that fails
  it is wrong, and a wrong test can send correct code back to the Coder or rank a wrong
  version first;
- against each stored wrong single-call solution of the same task (`--wrong`, the records of
  a `bench/studio.py` run): a wrong solution is caught when one of the variant's right tests
  fails it.
Neither the reference nor the hidden tests reach an agent.

    flock /tmp/terraqore-model.lock python bench/validator_prompt.py run
    python bench/validator_prompt.py report
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import agents.validator as validator
from bench.studio import COMMIT, warm_up
from bench.studio_probe import designed_outcomes, front_half, pending_tasks

RESULTS = Path(__file__).with_name("results") / "validator_prompt.jsonl"
WRONG = Path(__file__).with_name("results") / "studio_run4.jsonl"

# The variants before the winner keep their own text, so a re-run measures what was measured;
# their shared head and shape are the prompt's as it was then.
HEAD = """{sources}

{task}

{plan}

<INSTRUCTIONS>
Design four to six tests that check the task is done, without seeing any code. Each test's
code is one or two lines that call the functions or classes exactly as the task names them
(they are already imported) and assert the result. """
SHAPE = """
The shape of one test, shown for a different task (a function `area(w, h)`; do not copy
it): {{"name": "rejects_negative_width", "code": "with pytest.raises(ValueError): area(-1, 2)"}}
</INSTRUCTIONS>"""

VARIANTS = {
    # The prompt up to this benchmark. The 1.5B copied its list of edge cases: tests that
    # expected an empty input or a single element to raise ValueError, where the task said not.
    "listed-edges": HEAD
    + """Cover a normal case, the edge cases the
task mentions (empty input, one element) and the errors it names (`with pytest.raises(
ValueError): f(-1)`). Only assert what the task states, and work out each expected value
from the task's own words. Never define the function yourself."""
    + SHAPE,
    # Examples first, then cases; an edge case or an error only where the task describes it.
    "examples-first": HEAD
    + """First restate each example the task
gives, with the task's own values. Then add normal cases whose results follow from the
task's own words. Test an edge case or an error only where the task describes it, and use
`with pytest.raises(...)` only for an error the task names. Never define the function
yourself."""
    + SHAPE,
    # The same, with an assert as the shape to follow: of the fourth run's 24 `pytest.raises`
    # tests, 19 were wrong, most of them the prompt's own `f(-1)` or `area(-1, 2)` retyped
    # (`slugify(-1)`, `flatten([-1])`, and `f(-1)` itself).
    "examples-assert-shape": validator.PROMPT,  # the product's prompt since this benchmark
}


def wrong_solutions(path: Path) -> dict[str, list[dict[str, str]]]:
    """Each task's stored single-call solutions that failed the hidden tests."""
    out: dict[str, list[dict[str, str]]] = {}
    if not path.is_file():
        return out
    for line in path.read_text().splitlines():
        r = json.loads(line)
        if r["mode"].startswith("single") and not r.get("solved") and r.get("files"):
            out.setdefault(r["task"], []).append(r["files"])
    return out


def design(state: Any, prompt: str) -> tuple[list[dict[str, Any]], float]:
    """The Validator's tests for `state` with `prompt` in place of its own, and the seconds."""
    from graphs.studio_context import Context

    class _Runtime:
        context = Context()

    saved = validator.PROMPT
    validator.PROMPT = prompt
    t0 = time.perf_counter()
    try:
        out = validator.validator(state, _Runtime())  # type: ignore[arg-type]
    finally:
        validator.PROMPT = saved
    return out.get("designed_tests", []), round(time.perf_counter() - t0, 1)


def score(task: Path, tests: list[dict[str, Any]], wrong: list[dict[str, str]]) -> dict[str, Any]:
    reference = {"solution.py": (task / "reference.py").read_text()}
    on_reference = designed_outcomes(tests, reference)
    right = {name for name, outcome in on_reference.items() if outcome == "passed"}
    caught = 0
    for files in wrong:
        outcomes = designed_outcomes(tests, files)
        caught += any(outcomes.get(name, "failed") != "passed" for name in right)
    return {"on_reference": on_reference, "right": len(right), "caught": caught}


def cmd_run(args: argparse.Namespace) -> None:
    from graphs.studio_state import State

    todo = pending_tasks(args.results, args.tasks)
    if not todo:
        return
    wrong = wrong_solutions(args.wrong)
    warm_up()
    for task in todo:
        text = (task / "task.md").read_text()
        front = front_half(text)
        state = State(task=text, idea=front.get("idea"), plan=front.get("plan"))
        record: dict[str, Any] = {"task": task.name, "commit": COMMIT, "variants": {}}
        for name, prompt in VARIANTS.items():
            tests, seconds = design(state, prompt)
            scored = score(task, tests, wrong.get(task.name, []))
            record["variants"][name] = {"tests": tests, "seconds": seconds, **scored}
        record["wrong_solutions"] = len(wrong.get(task.name, []))
        with args.results.open("a") as f:
            f.write(json.dumps(record) + "\n")
        line = " ".join(
            f"{n}={v['right']}/{len(v['tests'])} caught {v['caught']}"
            for n, v in record["variants"].items()
        )
        print(f"{task.name:<22} {line} (of {record['wrong_solutions']} wrong)", flush=True)


def cmd_report(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    wrong_total = sum(r["wrong_solutions"] for r in rows)
    print(f"{len(rows)} tasks, {wrong_total} wrong single-call solutions to catch\n")
    print("| variant | tests | right | share right | tasks all right | raises (right) |"
          " stated | wrong caught | seconds |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for name in VARIANTS:
        vs = [r["variants"][name] for r in rows if name in r["variants"]]
        tests = sum(len(v["tests"]) for v in vs)
        right = sum(v["right"] for v in vs)
        whole = sum(v["right"] == len(v["tests"]) > 0 for v in vs)
        named = [(v, n, t) for v in vs for n, t in validator.designed_names(v["tests"])]
        raises = [(v, n) for v, n, t in named if "pytest.raises" in t["code"]]
        raises_right = sum(v["on_reference"].get(n) == "passed" for v, n in raises)
        stated = sum(bool(t.get("stated")) for v in vs for t in v["tests"])
        caught = sum(v["caught"] for v in vs)
        seconds = sum(v["seconds"] for v in vs) / max(1, len(vs))
        print(
            f"| {name} | {tests} | {right} | {right / max(1, tests):.0%} | {whole} of {len(vs)}"
            f" | {len(raises)} ({raises_right}) | {stated} | {caught} of {wrong_total}"
            f" | {seconds:.0f} |"
        )
    if args.verbose:
        for r in rows:
            print(f"\n{r['task']}")
            for name, v in r["variants"].items():
                print(f"  {name}: right {v['right']}/{len(v['tests'])}, caught {v['caught']}")
                for t in v["tests"]:
                    print(f"    {t['code'][:120]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "report"):
        p = sub.add_parser(name)
        p.add_argument("--results", type=Path, default=RESULTS)
        p.add_argument("--tasks", nargs="*", default=None)
        p.add_argument("--wrong", type=Path, default=WRONG)
        p.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    {"run": cmd_run, "report": cmd_report}[args.command](args)


if __name__ == "__main__":
    main()
