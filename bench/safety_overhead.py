"""What auth, metrics and the audit log cost on a streamed answer.

Two servers in one run, same GGUF, threads, prompt and seed: one with API keys, metrics
and audit (with prompts) on, one with all three off. Requests alternate between them, so
drift affects both alike. Reports decode tokens/s and time to first token (target: under
2% overhead).

Usage: python bench/safety_overhead.py [--model qwen2.5-coder:0.5b] [--runs 7] [--tokens 128]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.server_harness import start_server

KEY = "bench-key-0123456789abcdef"


def stream(url: str, model: str, tokens: int, headers: dict[str, str]) -> tuple[float, float]:
    """(time to first token, decode tokens/s) of one streamed chat with a cold prompt."""
    body = {
        "model": model,
        "stream": True,
        "messages": [
            {"role": "system", "content": f"[{uuid.uuid4().hex}] You are a helpful assistant."},
            {"role": "user", "content": "Explain how a hash map works, with an example."},
        ],
        "options": {"temperature": 0, "seed": 42, "num_predict": tokens},
    }
    start = time.perf_counter()
    first = last = None
    n = 0
    with httpx.stream("POST", f"{url}/api/chat", json=body, headers=headers, timeout=600) as r:
        for line in r.iter_lines():
            chunk = json.loads(line)
            if chunk.get("message", {}).get("content"):
                now = time.perf_counter()
                first = first or now
                last = now
                n += 1
    assert first is not None and last is not None
    return first - start, (n - 1) / (last - first)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder:0.5b")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    common = {"TERRAQORE_NUM_THREADS": str(args.threads), "TERRAQORE_KEEP_ALIVE": "-1"}
    plain = start_server(
        Path(tempfile.mkdtemp(prefix="tq-plain-")),
        {**common, "TERRAQORE_METRICS": "0", "TERRAQORE_AUDIT": "0"},
    )
    guarded = start_server(
        Path(tempfile.mkdtemp(prefix="tq-guarded-")),
        {**common, "TERRAQORE_API_KEYS": KEY, "TERRAQORE_AUDIT_PROMPTS": "1"},
    )
    auth = {"Authorization": f"Bearer {KEY}"}
    try:
        for srv, headers in ((plain, {}), (guarded, auth)):
            stream(srv.url, args.model, 8, headers)  # load and warm up
        rows: dict[str, list[float]] = {
            "plain_ttft": [],
            "plain_tps": [],
            "guarded_ttft": [],
            "guarded_tps": [],
        }
        for i in range(args.runs):
            order = [("plain", plain, {}), ("guarded", guarded, auth)]
            for name, srv, headers in order if i % 2 == 0 else reversed(order):
                ttft, tps = stream(srv.url, args.model, args.tokens, headers)
                rows[f"{name}_ttft"].append(ttft)
                rows[f"{name}_tps"].append(tps)
    finally:
        plain.stop()
        guarded.stop()
    med = {k: statistics.median(v) for k, v in rows.items()}
    result = {
        "model": args.model,
        "runs": args.runs,
        "tokens": args.tokens,
        "decode_tps_plain": med["plain_tps"],
        "decode_tps_guarded": med["guarded_tps"],
        "decode_ratio": med["guarded_tps"] / med["plain_tps"],
        "ttft_ms_plain": med["plain_ttft"] * 1000,
        "ttft_ms_guarded": med["guarded_ttft"] * 1000,
        "ttft_ratio": med["guarded_ttft"] / med["plain_ttft"],
        "raw": rows,
    }
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    (out / "safety_overhead.json").write_text(json.dumps(result, indent=2))
    r = result
    print("| metric | guards off | auth + metrics + audit | ratio | target |")
    print("|---|---|---|---|---|")
    print(
        f"| decode tokens/s | {r['decode_tps_plain']:.1f} | {r['decode_tps_guarded']:.1f} "
        f"| {r['decode_ratio']:.3f} | >= 0.98 |"
    )
    print(
        f"| TTFT, cold prompt (ms) | {r['ttft_ms_plain']:.0f} | {r['ttft_ms_guarded']:.0f} "
        f"| {r['ttft_ratio']:.3f} | <= 1.02 |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
