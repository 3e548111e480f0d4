"""An idle chat's first token, batched against unbatched, asked in turn in one run.

Two servers on the same model (`TERRAQORE_BATCHED=0` with one slot, and the defaults), each
loaded first; then short streamed chats (a fresh nonce each, as in `bench/batch_priority.py`)
go to one and then the other, the order swapped every round, so neither decodes while the
other does and the machine's drift falls on both. Reports each server's first-token times,
their medians and the ratio batched / unbatched (issue 27: it was 1.18 s against 0.79 s),
kept in `bench/results/idle_ttft.json` under `--label`.

Usage: python bench/idle_ttft.py [--model qwen2.5-coder:1.5b] [--rounds 8] [--label after]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.batch_priority import chat
from bench.batching import THREADS
from server.config import ServerSettings
from tests.server_harness import RunningServer, start_server

RESULTS = Path(__file__).parent / "results" / "idle_ttft.json"
SERVERS = {"unbatched": {"TERRAQORE_BATCHED": "0", "TERRAQORE_NUM_PARALLEL": "1"}, "batched": {}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder:1.5b")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--label", default="after", help="the run's key in the results file")
    args = ap.parse_args()
    servers: dict[str, RunningServer] = {}
    ttft: dict[str, list[float]] = {name: [] for name in SERVERS}
    try:
        for name, env in SERVERS.items():
            extra = {"TERRAQORE_NUM_THREADS": str(THREADS), "TERRAQORE_AUDIT": "0", **env}
            extra["TERRAQORE_OLLAMA_MODELS"] = str(ServerSettings().models_dir)
            servers[name] = start_server(Path(tempfile.mkdtemp(prefix="bench-ttft-")), extra)
            chat(servers[name].url, args.model)  # load
        for i in range(args.rounds):
            for name in SERVERS if i % 2 == 0 else reversed(SERVERS):
                ttft[name].append(round(chat(servers[name].url, args.model)[0], 3))
    finally:
        for srv in servers.values():
            srv.stop()
    medians = {name: statistics.median(times) for name, times in ttft.items()}
    out = {
        "model": args.model,
        "threads": THREADS,
        "ttft_s": ttft,
        "median_s": medians,
        "ratio_batched_to_unbatched": round(medians["batched"] / medians["unbatched"], 3),
    }
    # Earlier runs (the code before a change, say) stay in the file under their own labels.
    runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**runs, args.label: out}, indent=2))
    print(args.label, json.dumps(medians), out["ratio_batched_to_unbatched"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
