"""A chat while the studio builds: its time to first token against the same chat on an idle
server, in one run, for each `TERRAQORE_NUM_PARALLEL` asked.

The studio's first turn asks the 1.5B for three Coder versions and the Validator's tests at
once; `terraqore/answer` (the Q&A's model) is built FROM the same weights with the same
`num_ctx`, so it shares their runner and its sequences. With four sequences per runner the
build takes all four, and a chat waits for a version to finish. For each setting: a fresh
server and home, `terraqore build` of a short task in the background, and short chats to
`terraqore/answer` at fixed times into the build (while the Coder writes); then the same
chats once the build is over (idle). Reported: each chat's time to first token and the ratio
of the medians, busy against idle (issue 27's target for a chat during a batch: 1.2 at most).

Usage: python bench/chat_during_build.py [--parallel 4 6] [--at 25 45 65]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.batch_priority import chat
from tests.server_harness import start_server

RESULTS = Path(__file__).parent / "results" / "chat_during_build.json"
TASK = (
    "Write `median(values)` in `stats.py`: the middle value of a non-empty list of numbers "
    "(the mean of the two middle ones for an even count); raise ValueError for an empty "
    "list. `median([3, 1, 2])` is `2` and `median([4, 1, 3, 2])` is `2.5`."
)
MODEL = "terraqore/answer"


def one_setting(parallel: int, at: list[float]) -> dict[str, object]:
    """Chats during one build and then idle, on a fresh server with `parallel` sequences."""
    home = Path(tempfile.mkdtemp(prefix="bench-chat-build-"))
    srv = start_server(home / "home", {"TERRAQORE_NUM_PARALLEL": str(parallel)})
    env = {
        **os.environ,
        "TERRAQORE_HOME": str(home / "home"),
        "TERRAQORE_OLLAMA_HOST": srv.url,
    }
    try:
        # Creates the agent models (terraqore/answer among them) and loads the 1.5B.
        subprocess.run(
            [sys.executable, "-m", "terraqore.app.cli", "models", "sync"],
            env=env,
            check=True,
            capture_output=True,
        )
        chat(srv.url, MODEL)
        started = time.perf_counter()
        build = subprocess.Popen(
            [sys.executable, "-m", "terraqore.app.cli", "build", TASK, "--out", str(home / "out")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        busy = []
        for when in at:
            time.sleep(max(0.0, started + when - time.perf_counter()))
            if build.poll() is not None:
                break
            ttft, total = chat(srv.url, MODEL)
            busy.append({"at_s": round(time.perf_counter() - started - total, 1), "ttft_s": ttft})
        build.wait(timeout=1800)
        build_seconds = time.perf_counter() - started
        idle = [chat(srv.url, MODEL)[0] for _ in range(len(at))]
    finally:
        srv.stop()
    busy_ttft = [b["ttft_s"] for b in busy]
    return {
        "num_parallel": parallel,
        "build_seconds": round(build_seconds, 1),
        "build_exit": build.returncode,
        "busy": busy,
        "idle_ttft_s": [round(t, 2) for t in idle],
        "busy_median_s": round(statistics.median(busy_ttft), 2) if busy_ttft else None,
        "idle_median_s": round(statistics.median(idle), 2),
        "ratio": round(statistics.median(busy_ttft) / statistics.median(idle), 2)
        if busy_ttft
        else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parallel", type=int, nargs="*", default=[4, 6])
    ap.add_argument("--at", type=float, nargs="*", default=[25.0, 45.0, 65.0])
    args = ap.parse_args()
    rows = []
    for parallel in args.parallel:
        rows.append(one_setting(parallel, args.at))
        print(json.dumps(rows[-1]), flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
