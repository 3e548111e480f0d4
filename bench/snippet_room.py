"""How often a snippet keeps the gold answer, by the room its best sentence may take.

Offline, no model: for each question of every style whose gold article has a passage holding
the gold answer, the share whose snippet of that passage (`nodes.sources.snippet`, the
question as the query, 400 characters) still holds it, for each `BEST_ROOM` given, by half
and style, with the mean snippet length.

Usage: python bench/snippet_room.py [ROOM ...]   (default: 0 25 50 75 100 150 250)
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.qa_data import contains, load_questions
from bench.retrieval_corpus import lake_and_corpus
from lake.database import connect
from nodes.sources import snippet


def main() -> int:
    rooms = [int(a) for a in sys.argv[1:]] or [0, 25, 50, 75, 100, 150, 250]
    lake, chunk_item, _ = lake_and_corpus()
    con = connect(lake, read_only=True)
    rows = con.execute("SELECT c.id, c.text FROM silver_chunks c").fetchall()
    con.close()
    passages: dict[str, list[str]] = defaultdict(list)
    for chunk_id, text in rows:
        passages[chunk_item[int(chunk_id)]].append(text)
    kept: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for q in load_questions(kind=None):
        held = [t for t in passages.get(q["url"], []) if contains(t, q["answer"])]
        if not held:
            continue
        row = kept[(q["split"], q["kind"])]
        row["n"] += 1
        for room in rooms:
            snip = snippet(held[0], q.get("standalone") or q["question"], 400, room)
            row[f"kept {room}"] += contains(snip, q["answer"])
            row[f"chars {room}"] += len(snip)
    for (half, kind), row in sorted(kept.items()):
        n = row["n"]
        cells = " ".join(
            f"{room}:{row[f'kept {room}'] / n:.3f}/{row[f'chars {room}'] / n:.0f}" for room in rooms
        )
        print(f"{half:4} {kind:22} {n:4} {cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
