"""Prompt-lookup speculative decoding on "rewrite this file with one fix".

Repair rounds rewrite mostly the same code, so most of the answer is already in the prompt.
With `prompt_lookup_tokens` set, the runner drafts the next tokens by finding the last few
generated tokens earlier in the context, and verifies the draft in one batch. One server,
same GGUF and threads, greedy decoding; each file is rewritten without and with drafts,
alternating, and the two answers must be identical (the bench fails otherwise).

Reports decode tokens/s without and with drafts, and their ratio (the speed-up).

Usage: python bench/speculative.py [--model qwen2.5-coder:1.5b] [--draft 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.server_harness import start_server

ROOT = Path(__file__).resolve().parents[1]

TASKS = [
    ("server/runtime/prefix_cache.py", "rename the variable `best` to `winner` everywhere"),
    ("server/thread_stream.py", "make `emit` ignore items after `cancel` is set"),
    ("server/runtime/response_cache.py", "make the default `ttl` check use `>=` instead of `>`"),
]


def rewrite(url: str, model: str, path: str, fix: str, draft: int, tokens: int) -> dict:
    """One greedy rewrite; returns the answer and its decode speed."""
    code = (ROOT / path).read_text()
    prompt = (
        f"Rewrite this Python file with one fix: {fix}. Answer with the whole file only, "
        f"in one ```python block.\n\n```python\n{code}```"
    )
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "stream": False,
        "options": {
            "temperature": 0,
            "num_predict": tokens,
            "num_ctx": 4096,
            "prompt_lookup_tokens": draft,
        },
    }
    r = httpx.post(f"{url}/api/chat", json=body, timeout=1800)
    r.raise_for_status()
    data = r.json()
    return {
        "text": data["message"]["content"],
        "tokens": data["eval_count"],
        "tps": data["eval_count"] / (data["eval_duration"] / 1e9),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder:1.5b")
    parser.add_argument("--draft", type=int, default=10)
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tq-bench-spec-"))
    srv = start_server(home, {"TERRAQORE_NUM_THREADS": str(args.threads)})
    rows = []
    try:
        rewrite(srv.url, args.model, TASKS[0][0], TASKS[0][1], 0, 8)  # load, warm up
        for path, fix in TASKS:
            plain = rewrite(srv.url, args.model, path, fix, 0, args.tokens)
            drafted = rewrite(srv.url, args.model, path, fix, args.draft, args.tokens)
            rows.append(
                {
                    "file": path,
                    "tokens": plain["tokens"],
                    "tps_plain": plain["tps"],
                    "tps_draft": drafted["tps"],
                    "speedup": drafted["tps"] / plain["tps"],
                    "identical": plain["text"] == drafted["text"],
                }
            )
    finally:
        srv.stop()
    result = {
        "model": args.model,
        "draft": args.draft,
        "rows": rows,
        "median_speedup": statistics.median(r["speedup"] for r in rows),
    }
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    (out / "speculative.json").write_text(json.dumps(result, indent=2))
    print("| file | tokens | decode tokens/s, plain | with drafts | speed-up | identical |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| `{r['file']}` | {r['tokens']} | {r['tps_plain']:.1f} | {r['tps_draft']:.1f} "
            f"| {r['speedup']:.2f} | {r['identical']} |"
        )
    print(f"median speed-up: {result['median_speedup']:.2f} ({args.model}, draft {args.draft})")
    assert all(r["identical"] for r in rows), "drafts changed the greedy output"
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
