"""The lake's key file: created once, privately, even when writers open a new lake at once."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from lake.config import LakeSettings
from lake.database import lake_key


def _key_at(args: tuple[str, float]) -> str:
    home, start = args
    time.sleep(max(0.0, start - time.time()))  # all processes reach the key file together
    return lake_key(LakeSettings(home=Path(home)))


def _ready(_: int) -> int:
    return 0


def test_writers_opening_a_new_lake_at_once_agree_on_one_key(tmp_path: Path) -> None:
    # Spawned, not forked: by the time this runs, the test process has threads (servers,
    # browsers, clients), and a child forked while one of them held a lock hung the pool for
    # pytest-timeout's 600 s in CI. The workers start and import once, then meet at the key.
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        pool.map(_ready, range(12), chunksize=1)
        for attempt in range(3):  # several fresh lakes: the race window is small
            home = tmp_path / f"home{attempt}"
            start = time.time() + 0.5
            keys = pool.map_async(_key_at, [(str(home), start)] * 6, chunksize=1).get(60)
            assert len(set(keys)) == 1 and len(keys[0]) == 64
            key_path = LakeSettings(home=home).key_path
            assert key_path.stat().st_mode & 0o777 == 0o600
            assert [p.name for p in key_path.parent.iterdir()] == ["lake.key"]
