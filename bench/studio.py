"""Studio benchmark: a single call to the Coder's model against the whole graph.

Each task in `bench/studio_tasks/NN_name/` has `task.md` (what the agents see) and
`test_reference.py` (hidden tests the agents never see; `reference.py` is a solution
that passes them, checked by `check`). A task counts as solved when every hidden test
passes in the sandbox.

Modes:
- `single-fenced` / `single-json`: one call to the Coder's model with the task, files as
  fenced blocks or as schema-constrained JSON;
- `graph-fenced` / `graph-json`: the whole studio graph with that Coder format.

Runs are appended to a JSONL file (one line per task and mode), so a run can be split
over several holds of the model lock and resumed: `run` skips pairs already recorded.

    flock /tmp/terraqore-model.lock python bench/studio.py run --modes single-fenced --limit 6
    python bench/studio.py report
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TASKS = Path(__file__).with_name("studio_tasks")
RESULTS = Path(__file__).with_name("results") / "studio.jsonl"
MODES = ("single-fenced", "single-json", "graph-fenced", "graph-json")
COMMIT = subprocess.run(
    ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=TASKS.parent
).stdout.strip()


def tasks(names: list[str] | None = None) -> list[Path]:
    found = sorted(p for p in TASKS.iterdir() if (p / "task.md").is_file())
    if names:
        found = [p for p in found if p.name in names or p.name.split("_", 1)[1] in names]
    return found


def hidden_tests(task: Path, files: dict[str, str]) -> dict[str, Any]:
    """Run the task's reference tests against the generated files, in the sandbox."""
    from nodes.sandbox import run_pytest

    project = {p: t for p, t in files.items() if not p.endswith("test_reference.py")}
    renamed = False
    if "solution.py" not in project:
        # Fair to both modes: a lone module under another name still counts as the solution.
        modules = [
            p for p in project if p.endswith(".py") and not p.split("/")[-1].startswith("test")
        ]
        if len(modules) == 1:
            project["solution.py"] = project[modules[0]]
            renamed = True
    project["test_reference.py"] = (task / "test_reference.py").read_text()
    result = run_pytest(project, ["test_reference.py"])
    return {
        "solved": bool(result.tests) and not result.failed and not result.timed_out,
        "hidden_passed": result.passed,
        "hidden_run": len(result.tests),
        "renamed": renamed,
        "sandbox": result.sandbox.split(":")[0],
    }


def single(task_text: str, fmt: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    from langchain_core.messages import HumanMessage

    from agents.coder import FORMATS, CoderFiles, parse_fenced
    from agents.structured import ask_structured, ask_text
    from agents.studio_context import Context

    ctx = Context()
    messages = [HumanMessage(content=f"{task_text}\n\n{FORMATS[fmt]}")]
    if fmt == "json":
        answer, usage = ask_structured("coder", ctx.coder, messages, CoderFiles)
        return {f.path: f.content for f in answer.files}, list(usage)
    text, record = ask_text("coder", ctx.coder, messages)
    return parse_fenced(text), [dict(record)]


def whole_graph(
    task_text: str, fmt: str
) -> tuple[dict[str, str], list[dict[str, Any]], dict[str, Any]]:
    from agents.studio_context import Context
    from graphs.studio import graph

    out = graph.invoke({"task": task_text}, context=Context(coder_format=fmt))
    extra = {
        "rounds": out.get("rounds"),
        "own_tests_passed": (out.get("validation") or {}).get("passed"),
        "own_tests": [(out.get("validation") or {}).get(k) for k in ("tests_passed", "tests_run")],
        "verdict": (out.get("security") or {}).get("verdict"),
        "findings": len((out.get("security") or {}).get("findings", [])),
        "notes": out.get("notes", []),
    }
    return out.get("files", {}), [dict(u) for u in out.get("usage", [])], extra


def run_one(task: Path, mode: str) -> dict[str, Any]:
    text = (task / "task.md").read_text()
    kind, fmt = mode.split("-")
    record: dict[str, Any] = {"task": task.name, "mode": mode, "commit": COMMIT}
    start = time.perf_counter()
    try:
        if kind == "single":
            files, usage = single(text, fmt)
        else:
            files, usage, extra = whole_graph(text, fmt)
            record.update(extra)
        record["seconds"] = round(time.perf_counter() - start, 1)
        record["usage"] = usage
        record["files"] = files  # kept for reading the misses afterwards
        record.update(hidden_tests(task, files))
    except Exception as exc:  # a failed run is a data point, not the end of the benchmark
        record["seconds"] = round(time.perf_counter() - start, 1)
        record.update(solved=False, error=f"{type(exc).__name__}: {exc}"[:500])
        traceback.print_exc()
    return record


def done(path: Path) -> set[tuple[str, str]]:
    if not path.is_file():
        return set()
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(r["task"], r["mode"]) for r in rows}


def warm_up() -> None:
    """Register and load every agent model before timing (first use creates them)."""
    from terraqore.models import agent_model

    for role in ("idea", "planner", "coder", "validator", "security"):
        agent_model(role, num_predict=1).invoke("hi")


def cmd_run(args: argparse.Namespace) -> None:
    os.environ.setdefault("TERRAQORE_MAX_LOADED_MODELS", "6")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    have = done(args.results)
    todo = [(t, m) for t in tasks(args.tasks) for m in args.modes if (t.name, m) not in have]
    todo = todo[: args.limit] if args.limit else todo
    if not todo:
        print("nothing left to run")
        return
    warm_up()
    for task, mode in todo:
        record = run_one(task, mode)
        with args.results.open("a") as f:
            f.write(json.dumps(record) + "\n")
        print(
            f"{task.name:<22} {mode:<14} solved={record['solved']!s:<5} {record['seconds']:>6.1f}s",
            flush=True,
        )


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def cmd_report(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    by_mode: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_mode.setdefault(r["mode"], []).append(r)
    print("| mode | tasks | solved | pass rate | median s | p90 s | errors |")
    print("|---|---|---|---|---|---|---|")
    for mode in MODES:
        rs = by_mode.get(mode, [])
        if not rs:
            continue
        secs = [r["seconds"] for r in rs]
        solved = sum(bool(r.get("solved")) for r in rs)
        errors = sum("error" in r for r in rs)
        print(
            f"| {mode} | {len(rs)} | {solved} | {solved / len(rs):.0%} | "
            f"{statistics.median(secs):.1f} | {percentile(secs, 0.9):.1f} | {errors} |"
        )
    for mode in MODES:
        rs = [r for r in by_mode.get(mode, []) if r["mode"].startswith("graph")]
        if not rs:
            continue
        agents: dict[str, dict[str, float]] = {}
        for r in rs:
            for u in r.get("usage", []):
                a = agents.setdefault(u["agent"], {"seconds": 0.0, "tokens": 0.0, "calls": 0.0})
                a["seconds"] += u["seconds"]
                a["tokens"] += u["prompt_tokens"] + u["output_tokens"]
                a["calls"] += 1
        wall = sum(r["seconds"] for r in rs)
        tokens = sum(a["tokens"] for a in agents.values()) or 1
        print(f"\n{mode}: share of wall time and tokens per agent ({len(rs)} tasks)\n")
        print("| agent | calls | seconds | share of wall time | tokens | share of tokens |")
        print("|---|---|---|---|---|---|")
        for name, a in agents.items():
            print(
                f"| {name} | {a['calls']:.0f} | {a['seconds']:.0f} | {a['seconds'] / wall:.0%} | "
                f"{a['tokens']:.0f} | {a['tokens'] / tokens:.0%} |"
            )
        model_secs = sum(a["seconds"] for a in agents.values())
        print(
            f"| (outside model calls: sandbox, bandit, retrieval, graph) | | {wall - model_secs:.0f} | {(wall - model_secs) / wall:.0%} | | |"
        )
    per_task: dict[str, dict[str, bool]] = {}
    for r in rows:
        per_task.setdefault(r["task"], {})[r["mode"]] = bool(r.get("solved"))
    modes = [m for m in MODES if m in by_mode]
    print("\n| task | " + " | ".join(modes) + " |")
    print("|---|" + "---|" * len(modes))
    for task, res in sorted(per_task.items()):
        print(
            f"| {task} | "
            + " | ".join("yes" if res.get(m) else ("no" if m in res else "-") for m in modes)
            + " |"
        )


def cmd_check(args: argparse.Namespace) -> None:
    """Every reference solution passes its hidden tests (run in the same sandbox)."""
    bad = []
    for task in tasks(args.tasks):
        result = hidden_tests(task, {"solution.py": (task / "reference.py").read_text()})
        if not result["solved"]:
            bad.append(task.name)
    print(f"{len(tasks(args.tasks)) - len(bad)} reference solutions pass; failing: {bad}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "report", "check"):
        p = sub.add_parser(name)
        p.add_argument("--results", type=Path, default=RESULTS)
        p.add_argument("--tasks", nargs="*", default=None)
        p.add_argument(
            "--modes", nargs="*", default=["single-fenced", "graph-fenced"], choices=MODES
        )
        p.add_argument("--limit", type=int, default=0, help="run at most this many new pairs")
    args = parser.parse_args()
    {"run": cmd_run, "report": cmd_report, "check": cmd_check}[args.command](args)


if __name__ == "__main__":
    main()
