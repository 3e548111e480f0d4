"""Ingestion run by a real worker queue (huey on SQLite, two worker threads) into one lake:
the lake's operations are plain functions a queue can call, and concurrent writers wait for
each other instead of losing anything (docs/scaling.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from huey import SqliteHuey

from lake.config import LakeSettings
from lake.operations import ingest, status

WORDS = [
    "river",
    "granite",
    "orchard",
    "lantern",
    "copper",
    "meadow",
    "harbor",
    "falcon",
    "willow",
    "quarry",
    "saddle",
    "ember",
    "glacier",
    "thistle",
    "mortar",
    "beacon",
    "cedar",
    "tundra",
    "anchor",
    "velvet",
    "marble",
    "canyon",
    "pepper",
    "walnut",
    "bramble",
    "silica",
    "harvest",
    "compass",
    "lagoon",
    "tinder",
    "opal",
    "furnace",
    "prairie",
    "ribbon",
    "sextant",
]


def _folders(root: Path, count: int, per_folder: int) -> list[Path]:
    out = []
    for i in range(count):
        folder = root / f"batch{i}"
        folder.mkdir(parents=True)
        for j in range(per_folder):
            n = i * per_folder + j
            sentences = [
                f"The {WORDS[(n * 5 + k) % len(WORDS)]} was found near the "
                f"{WORDS[(n * 11 + 3 * k) % len(WORDS)]} and it is kept in the "
                f"{WORDS[(n * 13 + 7 * k) % len(WORDS)]} for the winter."
                for k in range(8)
            ]
            (folder / f"doc{j}.md").write_text(f"# Report {n}\n\n" + " ".join(sentences) + "\n")
        out.append(folder)
    return out


def test_ingest_jobs_from_a_worker_queue_all_land_in_the_lake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERRAQORE_HOME", str(tmp_path / "home"))
    huey = SqliteHuey(filename=str(tmp_path / "queue.sqlite"))

    @huey.task()
    def ingest_job(target: str, topic: str) -> int:
        return ingest(LakeSettings(), target, topic).bronze.added

    folders = _folders(tmp_path / "inbox", count=4, per_folder=3)
    results = [ingest_job(str(f), "reports") for f in folders]
    consumer = huey.create_consumer(workers=2, worker_type="thread", periodic=False)
    consumer.start()  # the workers, without the signal handlers `run` installs
    try:
        added = [r.get(blocking=True, timeout=120) for r in results]
    finally:
        consumer.stop(graceful=True)
    assert added == [3, 3, 3, 3]
    info = status(LakeSettings())
    # nothing lost, nothing left half-done: every item was judged by silver (kept or dropped)
    assert info["bronze_items"] == 12 and not info["errors"]
    assert "new" not in info["bronze_states"] and info["silver_chunks"] >= 1, info
