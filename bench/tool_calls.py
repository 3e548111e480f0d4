"""How often a small model's tool calls come back well formed, with and without the grammar.

34 tool-use prompts (`bench/data/tool_prompts.json`): each offers two or three tools and
asks for something one of them does; a third of them ask the model to explain first, a
third to put the call in a ```json block, as agent prompts often do. Two servers in one
run, same GGUF, threads, prompts and seeds: the tool grammar off (`TERRAQORE_TOOL_GRAMMAR=0`)
and on (the default).

A call is well formed when the answer has at least one `tool_calls` entry, every name is
one of the offered tools, and every call's arguments validate against that tool's schema.
Also reported: the share where the first call is the expected tool.

Usage: python bench/tool_calls.py [--model qwen2.5-coder:0.5b] [--temperature 0.7]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import httpx
import jsonschema

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.server_harness import start_server

DATA = Path(__file__).with_name("data") / "tool_prompts.json"


def well_formed(calls: list[dict], offered: dict[str, dict]) -> bool:
    """At least one call; each names an offered tool and has arguments its schema accepts."""
    if not calls:
        return False
    for call in calls:
        function = call.get("function", {})
        tool = offered.get(function.get("name"))
        if tool is None:
            return False
        try:
            jsonschema.validate(function.get("arguments"), tool["function"]["parameters"])
        except jsonschema.ValidationError:
            return False
    return True


def run(label: str, model: str, temperature: float, env: dict[str, str]) -> dict:
    data = json.loads(DATA.read_text())
    home = Path(tempfile.mkdtemp(prefix="tq-bench-tools-"))
    srv = start_server(home, {"TERRAQORE_NUM_THREADS": "2", **env})
    rows = []
    try:
        for i, case in enumerate(data["cases"]):
            offered = {name: data["tools"][name] for name in case["tools"]}
            messages = [{"role": "user", "content": case["prompt"]}]
            if "system" in case:
                messages.insert(0, {"role": "system", "content": case["system"]})
            body = {
                "model": model,
                "messages": messages,
                "tools": list(offered.values()),
                "stream": False,
                "options": {"temperature": temperature, "seed": i, "num_predict": 200},
            }
            r = httpx.post(f"{srv.url}/api/chat", json=body, timeout=600)
            r.raise_for_status()
            message = r.json()["message"]
            calls = message.get("tool_calls") or []
            rows.append(
                {
                    "prompt": case["prompt"],
                    "well_formed": well_formed(calls, offered),
                    "expected": bool(calls) and calls[0]["function"]["name"] == case["expect"],
                    "calls": calls,
                    "content": message.get("content", ""),
                }
            )
    finally:
        srv.stop()
    n = len(rows)
    return {
        "label": label,
        "n": n,
        "well_formed": sum(r["well_formed"] for r in rows) / n,
        "expected_tool": sum(r["expected"] for r in rows) / n,
        "rows": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder:0.5b")
    parser.add_argument("--temperature", type=float, default=0.7)
    args = parser.parse_args()
    results = [
        run("no grammar", args.model, args.temperature, {"TERRAQORE_TOOL_GRAMMAR": "0"}),
        run("lazy tool grammar", args.model, args.temperature, {}),
    ]
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    (out / "tool_calls.json").write_text(json.dumps(results, indent=2))
    print(f"{args.model}, temperature {args.temperature}, {results[0]['n']} prompts")
    print("| server | well-formed calls | expected tool first |")
    print("|---|---|---|")
    for r in results:
        print(f"| {r['label']} | {r['well_formed']:.0%} | {r['expected_tool']:.0%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
