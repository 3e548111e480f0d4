"""Server overhead: our server (ChatOllama streaming) against llama-cpp-python in-process.

One run, same GGUF, same threads, same prompts, seed and greedy sampling. Reports:
- decode tokens/s through the server divided by in-process decode tokens/s (target >= 0.97);
- time to first token (TTFT) added by the server (target <= 15 ms), on cold prompts
  (each prompt starts with a fresh nonce so no KV prefix is reused on either side);
- TTFT of a repeated ~1,000-token system prompt against its first use (target <= 0.3x).

Usage: python bench/server_overhead.py [--model qwen2.5-coder:0.5b] [--runs 3] [--tokens 128]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from langchain_ollama import ChatOllama
from llama_cpp import Llama

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.models.store import ModelStore
from tests.server_harness import start_server

QUESTION = "Explain in detail how a hash map works, with an example in Python."
LONG_SYSTEM = "You are a meticulous senior engineer. " + " ".join(
    f"Rule {i}: review every line for correctness, clarity and security before answering."
    for i in range(70)
)


def nonce_system(base: str = "You are a helpful assistant.") -> str:
    return f"[session {uuid.uuid4().hex}] {base}"


def timed(pieces: Iterable[str]) -> tuple[float, float, int]:
    """(time to first token, decode tokens/s after it, tokens) of a stream of text pieces."""
    start = time.perf_counter()
    first = last = None
    n = 0
    for piece in pieces:
        if piece:
            now = time.perf_counter()
            first = first or now
            last = now
            n += 1
    assert first is not None and last is not None
    return first - start, (n - 1) / (last - first), n


def inprocess_stream(
    llm: Llama, system: str, question: str, tokens: int
) -> tuple[float, float, int]:
    """One streamed chat with llama-cpp-python in this process."""
    chunks = llm.create_chat_completion(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": question}],
        stream=True,
        max_tokens=tokens,
        temperature=0.0,
        seed=42,
        # The server's (Ollama's) sampling defaults, so both sides do the same sampling work.
        repeat_penalty=1.1,
        top_k=40,
        top_p=0.9,
        min_p=0.0,
    )
    return timed(c["choices"][0]["delta"].get("content") or "" for c in chunks)  # type: ignore[index]


def server_stream(llm: ChatOllama, system: str, question: str) -> tuple[float, float, int]:
    """One streamed chat through the server with ChatOllama."""
    return timed(str(c.content) for c in llm.stream([("system", system), ("user", question)]))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder:0.5b")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx", type=int, default=4096)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="tq-bench-"))
    srv = start_server(home, {"TERRAQORE_NUM_THREADS": str(args.threads)})
    try:
        path = ModelStore(home / "models").get(args.model).model_path
        chat = ChatOllama(
            model=args.model,
            base_url=srv.url,
            num_ctx=args.ctx,
            temperature=0,
            seed=42,
            num_predict=args.tokens,
            num_thread=args.threads,
            keep_alive=-1,
        )
        server_stream(chat, nonce_system(), "hi")  # load and warm up

        local = Llama(
            model_path=str(path),
            n_ctx=args.ctx,
            n_threads=args.threads,
            n_threads_batch=args.threads,
            n_batch=512,
            verbose=False,
        )
        inprocess_stream(local, nonce_system(), "hi", 8)

        rows: dict[str, list[float]] = {
            k: []
            for k in (
                "local_ttft",
                "local_tps",
                "server_ttft",
                "server_tps",
                "first_long",
                "repeat_long",
            )
        }
        for _ in range(args.runs):
            t, r, _n = inprocess_stream(local, nonce_system(), QUESTION, args.tokens)
            rows["local_ttft"].append(t)
            rows["local_tps"].append(r)
            t, r, _n = server_stream(chat, nonce_system(), QUESTION)
            rows["server_ttft"].append(t)
            rows["server_tps"].append(r)
            # Repeated long system prompt: first use, then the same prefix with a new question.
            system = nonce_system(LONG_SYSTEM)
            short = chat.model_copy(update={"num_predict": 4})
            rows["first_long"].append(server_stream(short, system, "Say OK.")[0])
            rows["repeat_long"].append(server_stream(short, system, "Say yes.")[0])
        del local
        med = {k: statistics.median(v) for k, v in rows.items()}
        long_tokens = len(
            Llama(model_path=str(path), vocab_only=True, verbose=False).tokenize(
                LONG_SYSTEM.encode()
            )
        )
        result = {
            "model": args.model,
            "threads": args.threads,
            "runs": args.runs,
            "tokens": args.tokens,
            "decode_tps_inprocess": med["local_tps"],
            "decode_tps_server": med["server_tps"],
            "decode_ratio": med["server_tps"] / med["local_tps"],
            "ttft_ms_inprocess": med["local_ttft"] * 1000,
            "ttft_ms_server": med["server_ttft"] * 1000,
            "ttft_added_ms": (med["server_ttft"] - med["local_ttft"]) * 1000,
            "long_system_tokens": long_tokens,
            "ttft_ms_long_first": med["first_long"] * 1000,
            "ttft_ms_long_repeat": med["repeat_long"] * 1000,
            "repeat_prefix_ratio": med["repeat_long"] / med["first_long"],
            "raw": rows,
        }
    finally:
        srv.stop()
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    (out / "server_overhead.json").write_text(json.dumps(result, indent=2))
    r = result
    print("| metric | in-process | server | ratio / delta | target |")
    print("|---|---|---|---|---|")
    print(
        f"| decode tokens/s | {r['decode_tps_inprocess']:.1f} | {r['decode_tps_server']:.1f} "
        f"| {r['decode_ratio']:.3f} | >= 0.97 |"
    )
    print(
        f"| TTFT, cold prompt (ms) | {r['ttft_ms_inprocess']:.0f} | {r['ttft_ms_server']:.0f} "
        f"| {r['ttft_added_ms']:+.1f} ms | <= +15 ms |"
    )
    print(
        f"| TTFT, {long_tokens}-token system prompt, first vs repeated (ms) | "
        f"{r['ttft_ms_long_first']:.0f} | {r['ttft_ms_long_repeat']:.0f} "
        f"| {r['repeat_prefix_ratio']:.3f} | <= 0.3 |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
