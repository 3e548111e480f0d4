"""Five agents on one base model, taking turns: time to first token and memory.

Five agent models are created FROM one base model (`qwen2.5-coder:0.5b`), each with its own
system prompt of about 900 tokens. They are called in turn, three rounds, with short
questions, as the studio graph calls its agents. Three servers in one run, same GGUF and
threads:

- `shared + prefix cache` (the defaults): the five names share one runner, and each
  agent's KV state is saved after its turn and restored at its next one;
- `no prefix cache` (`TERRAQORE_PREFIX_CACHE_MB=0`): the same runner, but each switch of
  agent evaluates the whole system prompt again (the baseline: every turn cold);
- `one runner per agent`: each agent asks for its own context length, so each gets its
  own runner (how a scheduler keyed by model name serves them), for the memory baseline.

Reports, per server, the median TTFT of each agent's first use (cold) and of its later
uses, their ratio (target <= 0.3), and the server's resident memory with one agent loaded
and with all five.

Usage: python bench/agent_switch.py [--model qwen2.5-coder:0.5b] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.server_harness import RunningServer, start_server

ROLES = ["idea", "planner", "coder", "validator", "security"]
QUESTIONS = ["Say OK.", "Name one risk.", "Give one word.", "Reply yes or no.", "One number?"]
TOPICS = ["naming", "tests", "errors", "inputs", "logging", "files", "dates", "types", "docs"]


def system_prompt(role: str) -> str:
    """About 900 tokens, different from the first words on (each agent has its own)."""
    rules = [
        f"{role.capitalize()} rule {i}: when the plan touches {TOPICS[i % len(TOPICS)]}, "
        f"state what the {role} agent checks, why it matters, and what it leaves to others."
        for i in range(29)
    ]
    return f"You are the {role} agent of a local software studio.\n" + "\n".join(rules)


def ttft(url: str, model: str, question: str, options: dict[str, object]) -> float:
    """Seconds to the first streamed token of a short chat."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": question}],
        "options": {"temperature": 0, "num_predict": 4, **options},
        "keep_alive": -1,
    }
    start = time.perf_counter()
    with httpx.stream("POST", f"{url}/api/chat", json=body, timeout=600) as r:
        for line in r.iter_lines():
            if json.loads(line).get("message", {}).get("content"):
                return time.perf_counter() - start
    raise RuntimeError(f"no token from {model}")


def rss_mb(srv: RunningServer) -> float:
    """Resident memory of the server process."""
    for line in Path(f"/proc/{srv.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def run(label: str, base: str, rounds: int, env: dict[str, str], own_runner: bool) -> dict:
    home = Path(tempfile.mkdtemp(prefix="tq-bench-switch-"))
    srv = start_server(home, {"TERRAQORE_NUM_THREADS": "2", **env})
    try:
        for role in ROLES:
            r = httpx.post(
                f"{srv.url}/api/create",
                json={"model": f"bench/{role}", "from": base, "system": system_prompt(role)},
                timeout=120,
            )
            r.raise_for_status()
        cold: list[float] = []
        warm: list[float] = []
        memory: dict[str, float] = {"idle": rss_mb(srv)}
        for turn in range(rounds):
            for i, role in enumerate(ROLES):
                options = {"num_ctx": 4096 + 256 * i} if own_runner else {}
                seconds = ttft(srv.url, f"bench/{role}", QUESTIONS[(i + turn) % 5], options)
                (cold if turn == 0 else warm).append(seconds)
                if turn == 0 and i in (0, len(ROLES) - 1):
                    memory["one agent" if i == 0 else "five agents"] = rss_mb(srv)
        loaded = httpx.get(f"{srv.url}/api/ps").json()["models"]
    finally:
        srv.stop()
    result = {
        "label": label,
        "cold_ms": statistics.median(cold) * 1000,
        "warm_ms": statistics.median(warm) * 1000 if warm else None,
        "raw_cold": cold,
        "raw_warm": warm,
        "rss_mb": memory,
        "names_in_ps": len(loaded),
    }
    if warm:
        result["ratio"] = result["warm_ms"] / result["cold_ms"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder:0.5b")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = [
        run("shared + prefix cache", args.model, args.rounds, {}, own_runner=False),
        run(
            "no prefix cache",
            args.model,
            args.rounds,
            {"TERRAQORE_PREFIX_CACHE_MB": "0"},
            own_runner=False,
        ),
        run(
            "one runner per agent",
            args.model,
            1,
            {"TERRAQORE_MAX_LOADED_MODELS": "5"},
            own_runner=True,
        ),
    ]
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    (out / "agent_switch.json").write_text(json.dumps(results, indent=2))
    print(
        "| server | TTFT first use (ms) | TTFT later uses (ms) | ratio | RSS one agent / five (MB) |"
    )
    print("|---|---|---|---|---|")
    for r in results:
        later = f"{r['warm_ms']:.0f}" if r["warm_ms"] is not None else "-"
        ratio = f"{r['ratio']:.3f}" if "ratio" in r else "-"
        mem = r["rss_mb"]
        print(
            f"| {r['label']} | {r['cold_ms']:.0f} | {later} | {ratio} "
            f"| {mem['one agent']:.0f} / {mem['five agents']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
