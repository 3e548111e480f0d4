"""A chat during a batch: its latency against the same chat on an idle server, in one run.

The batch runs at low priority (`server.api.batch_runner`): a line starts only when no
interactive request waits, and a line in progress is stopped when one arrives. This bench
sends the same short chats (fresh nonce each, so nothing is reused) first to an idle server,
then while a batch of long answers runs on the same model, and reports the ratio of the
median time to first token and of the median total time (target: about 1), with how many
batch lines were stopped and the batch's own throughput.

Usage: python bench/batch_priority.py [--model qwen2.5-coder:0.5b] [--chats 6] [--lines 6]
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
from tests.server_harness import RunningServer, start_server

RESULTS = Path(__file__).parent / "results" / "batch_priority.json"


def chat(url: str, model: str) -> tuple[float, float]:
    """(time to first token, total) of one short streamed chat."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": f"[{uuid.uuid4().hex}] Say hello in one line."}],
        "stream": True,
        "options": {"num_predict": 16, "temperature": 0},
    }
    start = time.perf_counter()
    first = None
    with httpx.stream("POST", f"{url}/api/chat", json=body, timeout=600) as r:
        for line in r.iter_lines():
            if line and first is None and json.loads(line).get("message", {}).get("content"):
                first = time.perf_counter() - start
    return first or float("nan"), time.perf_counter() - start


def submit_batch(url: str, model: str, lines: int, tokens: int) -> str:
    """Upload and start a batch of long answers; return its id."""
    rows = [
        {
            "custom_id": f"b{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": model,
                "messages": [{"role": "user", "content": f"({i}) Explain how a CPU cache works."}],
                "max_tokens": tokens,
                "temperature": 0,
            },
        }
        for i in range(lines)
    ]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    up = httpx.post(
        f"{url}/v1/files", files={"file": ("in.jsonl", data)}, data={"purpose": "batch"}
    )
    up.raise_for_status()
    body = {"input_file_id": up.json()["id"], "endpoint": "/v1/chat/completions"}
    created = httpx.post(f"{url}/v1/batches", json={**body, "completion_window": "24h"})
    created.raise_for_status()
    return str(created.json()["id"])


def preempted(srv: RunningServer) -> float:
    for line in httpx.get(f"{srv.url}/metrics").text.splitlines():
        if line.startswith("terraqore_batch_lines_preempted_total "):
            return float(line.split()[1])
    return 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder:0.5b")
    ap.add_argument("--chats", type=int, default=6)
    ap.add_argument("--lines", type=int, default=6)
    ap.add_argument("--tokens", type=int, default=256)
    args = ap.parse_args()
    srv = start_server(Path(tempfile.mkdtemp(prefix="bench-batch-")))
    try:
        chat(srv.url, args.model)  # load the model
        idle = [chat(srv.url, args.model) for _ in range(args.chats)]
        batch_id = submit_batch(srv.url, args.model, args.lines, args.tokens)
        started = time.perf_counter()
        time.sleep(2.0)  # the batch is generating
        busy = []
        for _ in range(args.chats):
            busy.append(chat(srv.url, args.model))
            time.sleep(1.0)  # let the batch take the model again between chats
        while True:
            batch = httpx.get(f"{srv.url}/v1/batches/{batch_id}").json()
            if batch["status"] not in ("validating", "in_progress"):
                break
            time.sleep(0.5)
        batch_seconds = time.perf_counter() - started
        stopped = preempted(srv)
    finally:
        srv.stop()

    def median(rows: list[tuple[float, float]], i: int) -> float:
        return statistics.median(r[i] for r in rows)

    out = {
        "model": args.model,
        "chats": args.chats,
        "idle_ttft_s": median(idle, 0),
        "busy_ttft_s": median(busy, 0),
        "idle_total_s": median(idle, 1),
        "busy_total_s": median(busy, 1),
        "ttft_ratio": median(busy, 0) / median(idle, 0),
        "total_ratio": median(busy, 1) / median(idle, 1),
        "batch_status": batch["status"],
        "batch_lines": args.lines,
        "batch_completed": batch["request_counts"]["completed"],
        "batch_seconds": batch_seconds,
        "lines_preempted": stopped,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
