"""Studio benchmark: a single call to the Coder's model against the whole graph.

Each task in `bench/studio_tasks/NN_name/` has `task.md` (what the agents see),
`test_reference.py` (hidden tests the agents never see), `meta.json` (its kinds and the
files and names it fixes) and a reference solution that passes the tests (`reference.py`,
or a `reference/` project tree for a multi-file task); `bench/studio_suite.py` reads them.
A task counts as solved when every hidden test passes in the sandbox, run against the
project tree the mode wrote (multi-file tasks included: the tests import its packages and
run its entry points from the tree's root).

Modes:
- `single-fenced` / `single-json`: one call to the Coder's model with the task, files as
  fenced blocks or as schema-constrained JSON;
- `graph-fenced` / `graph-json`: the whole studio graph with that Coder format;
- `long-fenced`: the graph with the short path off (`Context.short_path=False`): every
  task goes through the Idea and the Planner, which measures what the short path saves;
- `eager-fenced`: the graph with every Coder version written on the first turn
  (`Context.staged=False`), as before the first version went alone: what staging saves;
- `reference`: no model; each task's reference solution stands in for a mode's answer,
  which checks the harness end to end (every task must be solved);
- `escalate-fenced`: the graph with the Coder on the 0.5B (`terraqore/coder-0.5b`: the
  Coder's Modelfile with FROM replaced) and the task router's code chain 0.5B -> 1.5B. The
  same run gives "without escalation": the candidate the tests chose among the 0.5B's own,
  and the calls made before the first escalation (see `escalation_split`).

Every candidate the graph wrote is also run against the hidden tests, after the run, for the
analysis (which candidate would have been right); nothing of it reaches an agent.

Runs are appended to a JSONL file (one line per task and mode), so a run can be split
over several holds of the model lock and resumed: `run` skips pairs already recorded.

    flock /tmp/terraqore-model.lock python bench/studio.py run --modes single-fenced --limit 6
    python bench/studio.py report
    python bench/studio.py check      # references pass, wrong variants fail, the suite's mix
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
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import studio_suite as suite

TASKS = suite.TASKS
RESULTS = Path(__file__).with_name("results") / "studio.jsonl"
MODES = (
    "single-fenced",
    "single-json",
    "graph-fenced",
    "graph-json",
    "escalate-fenced",
    "long-fenced",
    "eager-fenced",
    "reference",
)
SMALL_CODER = "terraqore/coder-0.5b"
CHAIN = [f"local:{SMALL_CODER}", "local:terraqore/coder"]
COMMIT = subprocess.run(
    ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=TASKS.parent
).stdout.strip()


def tasks(names: list[str] | None = None) -> list[Path]:
    """The task folders (ids, or the part after the number, select some)."""
    return [t.path for t in suite.tasks(names)]


def hidden_tests(task: Path, files: dict[str, str]) -> dict[str, Any]:
    """Run the task's hidden tests against the written project tree, in the sandbox.

    The tree goes in as written (folders kept) with the tests at its root, which is where
    pytest runs and what its imports and `python -m` entry points see; `placed` only moves
    a lone module or an extra top folder where the task's names say (fair to every mode).
    """
    from terraqore.codecheck.sandbox import run_pytest

    meta = suite.load(task)
    project, how = suite.placed(files, meta)
    project[suite.HIDDEN] = meta.hidden_tests()
    result = run_pytest(project, [suite.HIDDEN])
    return {
        "solved": bool(result.tests) and not result.failed and not result.timed_out,
        "hidden_passed": result.passed,
        "hidden_run": len(result.tests),
        "renamed": how == "renamed",
        "placed": how,
        "sandbox": result.sandbox.split(":")[0],
    }


def single(task_text: str, fmt: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """One call to the Coder's model; the files it wrote (folders kept) and its usage."""
    from langchain_core.messages import HumanMessage

    from agents.coder import FORMATS, CoderFiles, parse_fenced
    from agents.structured import ask_structured, ask_text
    from graphs.studio_context import Context

    ctx = Context()
    messages = [HumanMessage(content=f"{task_text}\n\n{FORMATS[fmt]}")]
    if fmt == "json":
        answer, usage = ask_structured("coder", ctx.coder, messages, CoderFiles)
        return {f.path: f.content for f in answer.files}, [dict(u) for u in usage]
    text, record = ask_text("coder", ctx.coder, messages)
    return parse_fenced(text), [dict(record)]


def whole_graph(
    task: Path,
    task_text: str,
    fmt: str,
    escalate: bool = False,
    candidates: int = 0,
    short_path: bool = True,
    staged: bool = True,
) -> tuple[dict[str, str], list[dict[str, Any]], dict[str, Any]]:
    from graphs.context import AgentConfig
    from graphs.studio import graph
    from graphs.studio_context import Context

    ctx = (
        Context(coder_format=fmt, coder_candidates=candidates, short_path=short_path, staged=staged)
        if candidates
        else Context(coder_format=fmt, short_path=short_path, staged=staged)
    )
    if escalate:
        ctx = Context(coder_format=fmt, coder=AgentConfig(model=SMALL_CODER))
    out = cast(Any, graph).invoke({"task": task_text}, context=ctx)
    validation = out.get("validation") or {}
    extra = {
        "context_candidates": ctx.coder_candidates,
        "staged": ctx.staged,
        "rounds": out.get("rounds"),
        "own_tests_passed": validation.get("passed"),
        "own_tests": [validation.get(k) for k in ("tests_passed", "tests_run")],
        "verdict": (out.get("security") or {}).get("verdict"),
        "findings": len((out.get("security") or {}).get("findings", [])),
        "notes": out.get("notes", []),
        "selected": out.get("selected"),
        "code_route": out.get("code_route"),
        "escalations": out.get("escalations", []),
        "designed_tests": len(out.get("test_files") or {}) and validation.get("tests_run"),
        # The tests themselves, so another way of choosing among the candidates can be
        # measured on the stored records, without the model.
        "designed": out.get("designed_tests", []),
        "candidates": [
            {
                "id": c["id"],
                "route": c["route"],
                "origin": c["origin"],
                "files": c["files"],
                "tests_passed": (c.get("validation") or {}).get("tests_passed"),
                "tests_run": (c.get("validation") or {}).get("tests_run"),
                "passed_ids": sorted(
                    t
                    for t, o in (c.get("validation") or {}).get("outcomes", {}).items()
                    if o == "passed"
                ),
                "behaviour": (c.get("validation") or {}).get("behaviour"),
                "hidden": hidden_tests(task, c["files"]) if c["files"] else {"solved": False},
            }
            for c in out.get("candidates", [])
        ],
    }
    return out.get("files", {}), [dict(u) for u in out.get("usage", [])], extra


def run_one(task: Path, mode: str, candidates: int = 0) -> dict[str, Any]:
    """One task in one mode, as a record: the files written, the usage and the hidden tests."""
    text = (task / "task.md").read_text()
    kind, _, fmt = mode.partition("-")
    record: dict[str, Any] = {"task": task.name, "mode": mode, "commit": COMMIT}
    start = time.perf_counter()
    usage: list[dict[str, Any]]
    try:
        if kind == "reference":
            files, usage = suite.load(task).reference(), []
        elif kind == "single":
            files, usage = single(text, fmt)
        else:
            files, usage, extra = whole_graph(
                task,
                text,
                fmt,
                escalate=kind == "escalate",
                candidates=candidates,
                short_path=kind != "long",
                staged=kind != "eager",
            )
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


def register_small_coder() -> None:
    """`terraqore/coder-0.5b`: the Coder's Modelfile (same system prompt) on the 0.5B."""
    from dataclasses import replace

    from terraqore.client.agent_models import agent_modelfiles, register
    from terraqore.client.models import ollama_client
    from terraqore.client.server_process import ensure_server

    [coder] = [
        a
        for a in agent_modelfiles(bases={"coder": "qwen2.5-coder:0.5b"})
        if a.name.endswith("/coder")
    ]
    register(ollama_client(), replace(coder, name=SMALL_CODER), ensure_server().base_url)


def warm_up(modes: tuple[str, ...] | list[str] = ()) -> None:
    """Register and load every agent model before timing (first use creates them)."""
    from terraqore.client.models import agent_model, chat_model

    for role in ("idea", "planner", "coder", "validator", "security"):
        agent_model(role, num_predict=1).invoke("hi")
    if any(m.startswith("escalate") for m in modes):
        register_small_coder()
        chat_model(SMALL_CODER, num_predict=1).invoke("hi")


def cmd_run(args: argparse.Namespace) -> None:
    os.environ.setdefault("TERRAQORE_MAX_LOADED_MODELS", "6")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    have = done(args.results)
    chosen = [
        t for t in tasks(args.tasks) if not args.split or suite.split_of(t.name) == args.split
    ]
    if args.short is not None:
        from terraqore.codecheck.task_contract import is_short, read_contract

        chosen = [
            t for t in chosen if is_short(read_contract((t / "task.md").read_text())) == args.short
        ]
    todo = [(t, m) for t in chosen for m in args.modes if (t.name, m) not in have]
    todo = todo[: args.limit] if args.limit else todo
    if not todo:
        print("nothing left to run")
        return
    if any(m != "reference" for m in args.modes):
        warm_up(args.modes)
    for task, mode in todo:
        saved = os.environ.get("TERRAQORE_ROUTES")
        if mode.startswith("escalate"):
            os.environ["TERRAQORE_ROUTES"] = json.dumps({"code": CHAIN})
        try:
            record = run_one(task, mode, args.candidates)
        finally:
            if saved is None:
                os.environ.pop("TERRAQORE_ROUTES", None)
            else:
                os.environ["TERRAQORE_ROUTES"] = saved
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


def recorded_pool(
    candidates: list[dict[str, Any]], designed: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Recorded candidates as `terraqore.codecheck.selection` sees them (their validation rebuilt).

    A record keeps the tests run and the ids passed; the candidate's own failed tests (a
    tie-break) are what is left once the designed tests are counted.
    """
    from terraqore.codecheck.test_file import TEST_FILE, designed_names

    total = len(designed_names(designed or []))
    pool = []
    for c in candidates:
        if c.get("tests_run") is None:
            continue
        passed_designed = sum(t.startswith(f"{TEST_FILE}::") for t in c["passed_ids"])
        own_failed = c["tests_run"] - (c["tests_passed"] or 0) - (total - passed_designed)
        validation = {
            "tests_passed": c["tests_passed"] or 0,
            "outcomes": {t: "passed" for t in c["passed_ids"]},
            "failures": [{"test": "own", "detail": ""}] * max(0, own_failed),
            "behaviour": c.get("behaviour"),
        }
        pool.append({**c, "validation": validation})
    return pool


def rechoose(
    candidates: list[dict[str, Any]], designed: list[dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """The graph's own choice (`terraqore.codecheck.selection.choose`) among these recorded candidates."""
    from terraqore.codecheck.selection import choose
    from terraqore.codecheck.test_file import stated_ids

    return choose(recorded_pool(candidates, designed), stated=stated_ids(designed or []))


RULES = {
    "as run: stated, designed, behaviour votes, agreement": ((0, 1, 2, 3, 4, 5), False),
    "as run, stated re-marked by the current `stated()`": ((0, 1, 2, 3, 4, 5), True),
    "third run's rule: designed, agreement": ((1, 3, 4, 5), False),
    "without behaviour votes": ((0, 1, 3, 4, 5), True),
    "behaviour votes first": ((2, 0, 1, 3, 4, 5), True),
}
"""Other ways to choose: an order of `terraqore.codecheck.selection.score`'s fields, and whether the stated
tests are marked again by today's `agents.validator.stated` (else as the run marked them)."""


def print_rules(mode: str, rs: list[dict[str, Any]]) -> None:
    """Each rule's choice among the stored candidates of each run, scored by the hidden tests.

    The pool is the one the run built with its own rule (its fix rounds followed that
    choice), so another rule's figure is an estimate, not a run.
    """
    from agents.validator import stated
    from terraqore.codecheck.selection import score
    from terraqore.codecheck.test_file import stated_ids

    with_c = [r for r in rs if r.get("candidates") and r.get("designed") is not None]
    if not with_c:
        return
    print(f"\n{mode}: selection rules re-applied to the stored candidates ({len(with_c)} tasks)\n")
    print("| rule | solved |\n|---|---|")
    for name, (order, remark) in RULES.items():
        solved = 0
        for r in with_c:
            designed = r["designed"]
            pool = recorded_pool(r["candidates"], designed)
            if remark:
                text = (TASKS / r["task"] / "task.md").read_text()
                designed = [{**d, "stated": stated(d["code"], text)} for d in designed]
            marked = stated_ids(designed)
            if pool:
                keyed = [(tuple(score(c, pool, marked)[i] for i in order), c) for c in pool]
                solved += bool(max(keyed, key=lambda k: k[0])[1]["hidden"].get("solved"))
        print(f"| {name} | {solved} |")


def escalation_split(r: dict[str, Any]) -> dict[str, Any]:
    """The run as it would have ended without escalation: the tests' choice among the first
    route's candidates, and the calls except the Coder's on later routes."""
    first = CHAIN[0]
    own = [c for c in r.get("candidates", []) if c["route"] == first]
    chosen = rechoose(own, r.get("designed"))
    later = [u for u in r.get("usage", []) if u["agent"] == "coder" and u["model"] != SMALL_CODER]
    kept = [u for u in r.get("usage", []) if u not in later]
    return {
        "solved": bool(chosen and chosen["hidden"].get("solved")),
        "usage": kept,
        "seconds": r["seconds"] - sum(u["seconds"] for u in later),
    }


def tokens_of(r: dict[str, Any]) -> int:
    return sum(u["prompt_tokens"] + u["output_tokens"] for u in r.get("usage", []))


def dollars(tokens_in: int, tokens_out: int) -> float:
    """What the tokens would cost at the router's reference price (local calls cost $0)."""
    from terraqore.client.router import RouterSettings

    s = RouterSettings()
    return (tokens_in * s.reference_price_input + tokens_out * s.reference_price_output) / 1e6


def names_broken(r: dict[str, Any]) -> list[str]:
    """What the record's written files break of its task's contract (`meta.json`)."""
    try:
        task = suite.load(TASKS / r["task"])
    except (OSError, ValueError):
        return ["task not in the suite"]
    return suite.names_kept(r.get("files") or {}, task)


def print_modes(by_mode: dict[str, list[dict[str, Any]]], title: str = "all tasks") -> None:
    """Per mode: pass rate, wall time, tokens, and the share of builds keeping the names."""
    print(f"\n{title}\n")
    print(
        "| mode | tasks | solved | pass rate | hidden tests passed | median s | p90 s | tokens per task | keep the task's names | errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for mode in [*MODES, "single-fenced, tidied"]:
        rs = by_mode.get(mode, [])
        if not rs:
            continue
        secs = [r["seconds"] for r in rs]
        solved = sum(bool(r.get("solved")) for r in rs)
        errors = sum("error" in r for r in rs)
        kept = sum(not names_broken(r) for r in rs)
        hidden = f"{sum(r.get('hidden_passed', 0) for r in rs)} of {sum(r.get('hidden_run', 0) for r in rs)}"
        print(
            f"| {mode} | {len(rs)} | {solved} | {solved / len(rs):.0%} | {hidden} | "
            f"{statistics.median(secs):.1f} | {percentile(secs, 0.9):.1f} | "
            f"{statistics.mean(tokens_of(r) for r in rs):.0f} | {kept} ({kept / len(rs):.0%}) | {errors} |"
        )


def subsets(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The records split the ways the report shows them: split, shape, kind."""
    meta = {t.name: t for t in suite.tasks()}
    known = [r for r in rows if r["task"] in meta]
    out: dict[str, list[dict[str, Any]]] = {
        "dev split": [r for r in known if meta[r["task"]].split == "dev"],
        "held-out split": [r for r in known if meta[r["task"]].split == "held-out"],
        "multi-file tasks": [r for r in known if meta[r["task"]].multi_file],
        "one-file tasks": [r for r in known if not meta[r["task"]].multi_file],
    }
    for kind in ("docstring", "raises"):
        out[f"{kind} tasks"] = [r for r in known if kind in meta[r["task"]].kinds]
    return out


def print_differences(by_mode: dict[str, list[dict[str, Any]]]) -> None:
    """For each pair of modes run on the same tasks: what one solved and the other did not."""
    solved = {m: {r["task"]: bool(r.get("solved")) for r in rs} for m, rs in by_mode.items()}
    modes = [m for m in MODES if m in solved]
    if len(modes) < 2:
        return
    print("\n| mode A | mode B | tasks both ran | only A solved | only B solved |")
    print("|---|---|---|---|---|")
    for i, a in enumerate(modes):
        for b in modes[i + 1 :]:
            both = sorted(solved[a].keys() & solved[b].keys())
            only_a = [t for t in both if solved[a][t] and not solved[b][t]]
            only_b = [t for t in both if solved[b][t] and not solved[a][t]]
            print(
                f"| {a} | {b} | {len(both)} | {len(only_a)}: {', '.join(only_a) or '-'} | "
                f"{len(only_b)}: {', '.join(only_b) or '-'} |"
            )


def print_agents(mode: str, rs: list[dict[str, Any]]) -> None:
    agents: dict[str, dict[str, Any]] = {}
    for r in rs:
        for u in r.get("usage", []):
            a = agents.setdefault(
                u["agent"], {"seconds": 0.0, "tokens": 0.0, "calls": 0, "models": set()}
            )
            a["seconds"] += u["seconds"]
            a["tokens"] += u["prompt_tokens"] + u["output_tokens"]
            a["calls"] += 1
            a["models"].add(u["model"])
    wall = sum(r["seconds"] for r in rs) or 1
    tokens = sum(a["tokens"] for a in agents.values()) or 1
    print(f"\n{mode}: share of wall time and tokens per agent ({len(rs)} tasks)\n")
    print(
        "Seconds are summed over calls; calls made at once (the Coder's versions, the Validator"
        " beside them) overlap, so the shares can add up to more than the wall time.\n"
    )
    print("| agent | models | calls | seconds | share of wall time | tokens | share of tokens |")
    print("|---|---|---|---|---|---|---|")
    for name, a in agents.items():
        print(
            f"| {name} | {', '.join(sorted(a['models']))} | {a['calls']} | {a['seconds']:.0f} | "
            f"{a['seconds'] / wall:.0%} | {a['tokens']:.0f} | {a['tokens'] / tokens:.0%} |"
        )
    rest = wall - sum(a["seconds"] for a in agents.values())
    if rest >= 0:  # else calls overlapped, and the rest is not what it says
        print(
            f"| (outside model calls: sandbox, bandit, retrieval, graph) | | | {rest:.0f} |"
            f" {rest / wall:.0%} | | |"
        )


def print_selection(mode: str, rs: list[dict[str, Any]]) -> None:
    """What the candidates and the tests did: the chosen one against the first and the best."""
    with_c = [r for r in rs if r.get("candidates")]
    if not with_c:
        return
    first = sum(bool(r["candidates"][0]["hidden"].get("solved")) for r in with_c)
    first_turn = [r for r in with_c]
    any_first = sum(
        any(
            c["hidden"].get("solved")
            for c in r["candidates"]
            if c["origin"] not in ("fix", "security")
        )
        for r in first_turn
    )
    any_all = sum(any(c["hidden"].get("solved") for c in r["candidates"]) for r in with_c)
    chosen = sum(bool(r.get("solved")) for r in with_c)
    fixes = sum(c["origin"] == "fix" for r in with_c for c in r["candidates"])
    fix_won = sum(
        r["candidates"][r["selected"]]["origin"] == "fix"
        for r in with_c
        if r.get("selected", -1) >= 0
    )
    print(f"\n{mode}: candidates ({len(with_c)} tasks)\n")
    print(
        "| first candidate solved | some first-turn candidate solved | some candidate solved | the chosen one solved | fixes written | fixes chosen |"
    )
    print("|---|---|---|---|---|---|")
    print(f"| {first} | {any_first} | {any_all} | {chosen} | {fixes} | {fix_won} |")
    by_origin: dict[str, list[int]] = {}
    for r in with_c:
        for c in r["candidates"]:
            counts = by_origin.setdefault(c["origin"], [0, 0, 0])
            counts[0] += 1
            counts[1] += bool(c["hidden"].get("solved"))
            counts[2] += c["id"] == r.get("selected")
    print("\n| origin | written | solved | chosen |\n|---|---|---|---|")
    for origin, (written, solved, picked) in by_origin.items():
        print(f"| {origin} | {written} | {solved} | {picked} |")


def tidied_single(rs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The single calls' files after the graph's tidy step (`terraqore.codecheck.code_tidy`), re-scored.

    Shows how much of the graph's lead a deterministic clean-up alone would give a single call.
    """
    from terraqore.codecheck.code_tidy import tidy_files

    out = []
    for r in rs:
        files = r.get("files") or {}
        tidy, _ = tidy_files(files)
        out.append({**r, "files": tidy, **(hidden_tests(TASKS / r["task"], tidy) if files else {})})
    return out


def print_escalation(rs: list[dict[str, Any]], reference: list[dict[str, Any]]) -> None:
    """With and without escalation, and the graph with the 1.5B Coder from the start on the
    same tasks (`reference`, the graph-fenced runs) when there are some."""
    if not rs:
        return
    n = len(rs)
    split = [escalation_split(r) for r in rs]
    escalated = sum(bool(r.get("escalations")) for r in rs)
    print(f"\nescalation, chain {' -> '.join(CHAIN)} ({n} tasks; {escalated} escalated)\n")
    print("| | solved | pass rate | tokens per task | median s | p90 s | at the reference price |")
    print("|---|---|---|---|---|---|---|")
    rows: tuple[tuple[str, list[bool], list[dict[str, Any]]], ...] = (
        ("without escalation (0.5B only)", [bool(x["solved"]) for x in split], split),
        (
            "with escalation",
            [bool(r.get("solved")) for r in rs],
            [{"usage": r.get("usage", []), "seconds": r["seconds"]} for r in rs],
        ),
    )
    same = {r["task"]: r for r in reference}
    if all(r["task"] in same for r in rs):
        ref = [same[r["task"]] for r in rs]
        rows += (
            (
                "the 1.5B from the start (graph, fenced)",
                [bool(r.get("solved")) for r in ref],
                [{"usage": r.get("usage", []), "seconds": r["seconds"]} for r in ref],
            ),
        )
    for name, solved, runs in rows:
        usage = [u for x in runs for u in x["usage"]]
        secs = [x["seconds"] for x in runs]
        tokens_in = sum(u["prompt_tokens"] for u in usage)
        tokens_out = sum(u["output_tokens"] for u in usage)
        print(
            f"| {name} | {sum(solved)} | {sum(solved) / n:.0%} | {(tokens_in + tokens_out) / n:.0f} | "
            f"{statistics.median(secs):.1f} | {percentile(secs, 0.9):.1f} | "
            f"${dollars(tokens_in, tokens_out):.4f} (local: $0) |"
        )
    routes: dict[str, int] = {}
    for r in rs:
        routes[str(r.get("code_route"))] = routes.get(str(r.get("code_route")), 0) + 1
    print("\nfinal code by route:", routes)


def cmd_report(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    if args.tasks:
        names = {t.name for t in tasks(args.tasks)}
        rows = [r for r in rows if r["task"] in names]
    by_mode: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_mode.setdefault(r["mode"], []).append(r)
    if by_mode.get("single-fenced"):
        by_mode["single-fenced, tidied"] = tidied_single(by_mode["single-fenced"])
    print_modes(by_mode)
    print_differences({m: rs for m, rs in by_mode.items() if m in MODES})
    tidied = {r["task"]: r for r in by_mode.get("single-fenced, tidied", [])}
    for title, part in subsets(rows).items():
        if part:
            parted: dict[str, list[dict[str, Any]]] = {}
            for r in part:
                parted.setdefault(r["mode"], []).append(r)
                if r["mode"] == "single-fenced" and r["task"] in tidied:
                    parted.setdefault("single-fenced, tidied", []).append(tidied[r["task"]])
            print_modes(parted, title)
    broken = [(r["mode"], r["task"], b) for r in rows if (b := names_broken(r))]
    if broken:
        print("\nbuilds that do not keep the task's names\n")
        for mode, task, what in broken:
            print(f"- {mode} {task}: {'; '.join(what)}")
    for mode in MODES:
        if mode.startswith(("graph", "escalate", "long")) and by_mode.get(mode):
            print_agents(mode, by_mode[mode])
            print_selection(mode, by_mode[mode])
            print_rules(mode, by_mode[mode])
    print_escalation(by_mode.get("escalate-fenced", []), by_mode.get("graph-fenced", []))
    per_task: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        per_task.setdefault(r["task"], {})[r["mode"]] = r
    modes = [m for m in MODES if m in by_mode]
    print("\n| task | split | " + " | ".join(modes) + " |")
    print("|---|---|" + "---|" * len(modes))
    for task, res in sorted(per_task.items()):
        cells = [suite.split_of(task)]
        for m in modes:
            r = res.get(m)
            if r is None:
                cells.append("-")
                continue
            mark = "yes" if r.get("solved") else "no"
            detail = (
                f"{r.get('hidden_passed', 0)}/{r.get('hidden_run', 0)}"
                if "hidden_run" in r
                else "error"
            )
            cells.append(f"{mark} ({detail}, {r['seconds']:.0f} s)")
        print(f"| {task} | " + " | ".join(cells) + " |")


def cmd_check(args: argparse.Namespace) -> None:
    """Verify the suite in the sandbox; exit 1 on any problem.

    - every reference solution passes its hidden tests;
    - every obviously wrong variant fails them (`studio_suite.wrong_variants`: the
      reference's files left empty, and every function's body made `return None`), so the
      tests are not vacuous (skipped with `--quick`);
    - every task's metadata is sound and its `>>>` examples hold for its reference
      (`studio_suite.task_problems`), and the whole suite has the mix issue 25 asks for
      (`studio_suite.suite_problems`).
    """
    found = suite.tasks(args.tasks)
    problems = [] if args.tasks else suite.suite_problems(found)
    problems += [p for task in found for p in suite.task_problems(task)]
    passed = caught = variants = 0
    for task in found:
        start = time.perf_counter()
        reference = task.reference()
        if hidden_tests(task.path, reference)["solved"]:
            passed += 1
        else:
            problems.append(f"{task.name}: the reference fails its hidden tests")
        wrong = {} if args.quick else suite.wrong_variants(reference)
        for label, files in wrong.items():
            variants += 1
            if hidden_tests(task.path, files)["solved"]:
                problems.append(f"{task.name}: the {label} variant passes the hidden tests")
            else:
                caught += 1
        print(f"{task.name:<26} {task.split:<9} {time.perf_counter() - start:5.1f} s", flush=True)
    counts = suite.kind_counts(found)
    splits = {s: sum(t.split == s for t in found) for s in suite.SPLITS}
    print(
        f"\n{len(found)} tasks: "
        + ", ".join(f"{n} {k}" for k, n in counts.items())
        + "; "
        + ", ".join(f"{n} {s}" for s, n in splits.items())
    )
    print(f"{passed} of {len(found)} reference solutions pass")
    if not args.quick:
        print(f"{caught} of {variants} wrong variants fail")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if problems:
        sys.exit(1)


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
        p.add_argument("--quick", action="store_true", help="check: skip the wrong variants")
        p.add_argument("--split", choices=suite.SPLITS, default=None, help="run: only this half")
        p.add_argument(
            "--short",
            type=lambda v: v == "yes",
            default=None,
            help="run: only short tasks (yes) or only the others (no)",
        )
        p.add_argument(
            "--candidates",
            type=int,
            default=0,
            help="the graph's Context.coder_candidates (0: default)",
        )
    args = parser.parse_args()
    {"run": cmd_run, "report": cmd_report, "check": cmd_check}[args.command](args)


if __name__ == "__main__":
    main()
