"""Lake ingest speed on the Wikipedia vital-articles corpus (10,033 lead paragraphs).

Measures items per second into bronze (one transaction, idempotent on the content hash)
and items and chunks per second into silver (cleaning, language, exact and SimHash
dedup, token-aware chunking), in one run on an encrypted lake.

Usage: python bench/lake_ingest.py [--articles N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lake.bronze import Source, write_batch
from lake.config import LakeSettings
from lake.database import connect
from lake.knowledge_base import vital_articles
from lake.silver import promote


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=None)
    args = parser.parse_args()
    items = vital_articles(args.articles)
    settings = LakeSettings(home=Path(tempfile.mkdtemp(prefix="tq-lake-bench-")))
    con = connect(settings)
    try:
        start = time.perf_counter()
        batch = write_batch(con, Source("dataset", "bench:vital", "wikipedia"), items)
        bronze_s = time.perf_counter() - start
        start = time.perf_counter()
        again = write_batch(con, Source("dataset", "bench:vital", "wikipedia"), items)
        reingest_s = time.perf_counter() - start
        start = time.perf_counter()
        report = promote(con, settings)
        silver_s = time.perf_counter() - start
    finally:
        con.close()
    result = {
        "items": len(items),
        "bronze_added": batch.added,
        "bronze_items_per_s": len(items) / bronze_s,
        "reingest_added": again.added,
        "reingest_items_per_s": len(items) / reingest_s,
        "silver_items": report.items,
        "silver_promoted": report.promoted,
        "silver_chunks": report.chunks,
        "silver_dropped": report.dropped,
        "silver_items_per_s": report.items / silver_s,
        "silver_chunks_per_s": report.chunks / silver_s,
    }
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    (out / "lake_ingest.json").write_text(json.dumps(result, indent=2))
    r = result
    print("| stage | items | rate |")
    print("|---|---|---|")
    print(
        f"| bronze write (encrypted, one transaction) | {r['items']} | {r['bronze_items_per_s']:.0f} items/s |"
    )
    print(
        f"| re-ingest (all already present) | {r['items']} | {r['reingest_items_per_s']:.0f} items/s |"
    )
    print(
        f"| silver (clean, dedup, chunk) | {r['silver_items']} | {r['silver_items_per_s']:.0f} items/s, "
        f"{r['silver_chunks_per_s']:.0f} chunks/s |"
    )
    print(
        f"\npromoted {r['silver_promoted']} as {r['silver_chunks']} chunks; dropped {r['silver_dropped']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
