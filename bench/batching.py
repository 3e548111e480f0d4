"""Concurrent streams: llama.cpp's llama-server against our server unbatched and batched, one run.

For each model (the bundled 1.5B and 0.5B) and each N in 1..4, N streams of `--tokens`
generated tokens are started at once, each with its own raw prompt (a counting task, so that
no stream ends early; llama-server is also told to ignore end-of-generation), with the same
threads, batch size and sampling (temperature 0.7, top-k 40, top-p 0.9, no repeat penalty,
fixed seeds), no flash attention on either side. Three servers:
- `llama-server`: built by `bench/llama_server.py setup` from the llama.cpp our engine ships,
  `--parallel N` with continuous batching and a unified KV cache of `num_ctx` cells per slot,
  restarted for each N;
- `ours-unbatched`: our server as it was (`TERRAQORE_BATCHED=0`, `TERRAQORE_NUM_PARALLEL=1`:
  one context, requests one after another);
- `ours-batched`: our server as it is now (the defaults: batched, four sequences).
Per N: total generated tokens/s (all tokens over the wall time from the first request to the
last token), each stream's time to first token, and the p95 time between tokens (over every
gap of every stream). Then, on both of our servers, interactive time to first token on an
idle server and while a batch job of long answers runs (`bench/batch_priority.py`'s chat and
batch), and the Coder's case: the same ~450-token prompt three times at once.

Writes bench/results/batching.json. Usage (under the model lock):
    python bench/batching.py [--tokens 256] [--models qwen2.5-coder:1.5b qwen2.5-coder:0.5b]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.batch_priority import chat, submit_batch
from bench.llama_server import binary_path
from server.config import ServerSettings
from server.models.store import ModelStore
from tests.server_harness import free_port, start_server

RESULTS = Path(__file__).parent / "results" / "batching.json"
THREADS = 2
NUM_CTX = 4096
SAMPLING = {"temperature": 0.7, "top_k": 40, "top_p": 0.9, "min_p": 0.0, "repeat_penalty": 1.0}
CODER_PROMPT = (
    "<|im_start|>system\nYou are the Coder. Write one complete Python module for the task. "
    + " ".join(f"Rule {i}: handle edge case {i} explicitly and document it." for i in range(25))
    + "<|im_end|>\n<|im_start|>user\nWrite a function slugify(text) with tests.<|im_end|>\n"
    "<|im_start|>assistant\n"
)


def prompt(i: int) -> str:
    """A raw prompt that keeps the model counting well past the token budget."""
    return (
        f"Sequence {i}. Write the numbers from {i * 1000 + 1} upwards, one per line, each "
        f"followed by its English name, and never stop.\n{i * 1000 + 1}: "
    )


Stream = Callable[[str, int, int], list[float]]
"""(prompt, tokens, seed) -> arrival times of every token piece, from the request's start."""


def ours_stream(url: str, model: str) -> Stream:
    def run(text: str, tokens: int, seed: int) -> list[float]:
        options = {**SAMPLING, "num_predict": tokens, "seed": seed}
        body = {"model": model, "prompt": text, "raw": True, "stream": True, "options": options}
        start, times = time.perf_counter(), []
        with httpx.stream("POST", f"{url}/api/generate", json=body, timeout=900) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if line and json.loads(line).get("response"):
                    times.append(time.perf_counter() - start)
        return times

    return run


def llama_stream(url: str) -> Stream:
    def run(text: str, tokens: int, seed: int) -> list[float]:
        body = {
            "prompt": text,
            "n_predict": tokens,
            "ignore_eos": True,
            "stream": True,
            "seed": seed,
            "cache_prompt": True,
            **SAMPLING,
        }
        start, times = time.perf_counter(), []
        with httpx.stream("POST", f"{url}/completion", json=body, timeout=900) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if line.startswith("data: ") and json.loads(line[6:]).get("content"):
                    times.append(time.perf_counter() - start)
        return times

    return run


def concurrent(
    run: Stream, n: int, tokens: int, prompts: list[str] | None = None
) -> dict[str, Any]:
    """N streams at once: totals, each stream's TTFT, p95 time between tokens."""
    texts = prompts or [prompt(i) for i in range(n)]
    results: list[list[float]] = [[] for _ in range(n)]

    def one(i: int) -> None:
        results[i] = run(texts[i], tokens, 1000 + i)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    gaps = sorted(b - a for times in results for a, b in itertools.pairwise(times))
    count = sum(len(times) for times in results)
    return {
        "n": n,
        "tokens": [len(times) for times in results],
        "wall_s": round(wall, 3),
        "total_tok_s": round(count / wall, 3),
        "ttft_s": [round(times[0], 3) if times else None for times in results],
        "p95_gap_ms": round(1000 * gaps[int(0.95 * (len(gaps) - 1))], 1) if gaps else None,
    }


def start_llama_server(path: Path, n: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    args = [str(binary_path()), "-m", str(path), "--host", "127.0.0.1", "--port", str(port)]
    args += ["-t", str(THREADS), "-tb", str(THREADS), "-c", str(NUM_CTX * n), "-np", str(n)]
    args += ["-b", "512", "-ub", "512", "-fa", "off", "-cb", "-kvu", "--no-warmup"]
    log = open(Path(tempfile.gettempdir()) / f"llama-server-{port}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama-server exited: see {log.name}")
        try:
            if httpx.get(f"{url}/health", timeout=0.5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("llama-server did not start")


def during_batch(url: str, model: str, chats: int) -> dict[str, Any]:
    """Interactive TTFT on an idle server, then while a batch job of long answers runs."""
    idle = [chat(url, model)[0] for _ in range(chats)]
    batch_id = submit_batch(url, model, lines=4, tokens=256)
    time.sleep(3.0)  # the first line is generating
    busy = []
    for _ in range(chats):
        busy.append(chat(url, model)[0])
        time.sleep(0.5)
    httpx.post(f"{url}/v1/batches/{batch_id}/cancel", timeout=30)
    while httpx.get(f"{url}/v1/batches/{batch_id}").json()["status"] == "cancelling":
        time.sleep(0.3)
    ratio = statistics.median(busy) / statistics.median(idle)
    return {"idle_ttft_s": idle, "busy_ttft_s": busy, "ttft_ratio": round(ratio, 3)}


def ours(model: str, env: dict[str, str], tokens: int, chats: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="bench-batching-"))
    extra = {"TERRAQORE_NUM_THREADS": str(THREADS), "TERRAQORE_AUDIT": "0", **env}
    extra["TERRAQORE_OLLAMA_MODELS"] = str(ServerSettings().models_dir)
    srv = start_server(home, extra)
    try:
        run = ours_stream(srv.url, model)
        run("Hello", 4, 1)  # load
        rows = [concurrent(run, n, tokens) for n in (1, 2, 3, 4)]
        coder = concurrent(run, 3, 64, [CODER_PROMPT] * 3)
        return {"streams": rows, "coder_x3": coder, "batch": during_batch(srv.url, model, chats)}
    finally:
        srv.stop()


def llama_server(path: Path, tokens: int) -> dict[str, Any]:
    rows = []
    for n in (1, 2, 3, 4):
        proc, url = start_llama_server(path, n)
        try:
            run = llama_stream(url)
            run("Hello", 4, 1)  # warm
            rows.append(concurrent(run, n, tokens))
        finally:
            proc.terminate()
            proc.wait(30)
    return {"streams": rows}


def ratios(result: dict[str, Any]) -> dict[str, Any]:
    def tps(server: str, n: int) -> float:
        return float(result[server]["streams"][n - 1]["total_tok_s"])

    out: dict[str, Any] = {}
    for n in (1, 2, 3, 4):
        out[f"n{n}_batched_vs_llama_server"] = round(
            tps("ours-batched", n) / tps("llama-server", n), 3
        )
        out[f"n{n}_batched_vs_one_stream"] = round(
            tps("ours-batched", n) / tps("ours-batched", 1), 3
        )
        out[f"n{n}_unbatched_vs_llama_server"] = round(
            tps("ours-unbatched", n) / tps("llama-server", n), 3
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["qwen2.5-coder:1.5b", "qwen2.5-coder:0.5b"])
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--chats", type=int, default=3)
    args = ap.parse_args()
    if not binary_path().exists():
        raise SystemExit("run `python bench/llama_server.py setup` first")
    store = ModelStore(ServerSettings().models_dir)
    # One model per invocation is allowed (each keeps its three servers in one run): the file
    # keeps the other models' results.
    out: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    out |= {"tokens": args.tokens, "threads": THREADS, "num_ctx": NUM_CTX}
    for model in args.models:
        path = store.get(model).model_path
        result: dict[str, Any] = {"llama-server": llama_server(path, args.tokens)}
        print(model, "llama-server", json.dumps(result["llama-server"]), flush=True)
        unbatched = {"TERRAQORE_BATCHED": "0", "TERRAQORE_NUM_PARALLEL": "1"}
        result["ours-unbatched"] = ours(model, unbatched, args.tokens, args.chats)
        print(model, "ours-unbatched", json.dumps(result["ours-unbatched"]), flush=True)
        result["ours-batched"] = ours(model, {}, args.tokens, args.chats)
        print(model, "ours-batched", json.dumps(result["ours-batched"]), flush=True)
        result["ratios"] = ratios(result)
        result["load_average_1m"] = os.getloadavg()[0]
        out[model] = result
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({m: out[m]["ratios"] for m in args.models}, indent=2))
    for model in args.models:
        for server in ("ours-unbatched", "ours-batched"):
            print(model, server, "batch-job TTFT ratio", out[model][server]["batch"]["ttft_ratio"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
