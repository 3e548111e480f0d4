"""No code path loses a blob that a manifest references: not rm, not prune, not a kill -9."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from server.models.manifest import MEDIA_CONFIG, MEDIA_MODEL, Manifest, ModelName
from server.models.store import ModelStore

ROOT = Path(__file__).resolve().parents[2]


def populate(store: ModelStore, count: int, seed: int) -> None:
    """Models that each own one blob and share one of three common blobs."""
    rng = random.Random(seed)
    shared = [store.add_blob_bytes(f"shared-{i}".encode() * 5000) for i in range(3)]
    for i in range(count):
        name = ModelName.parse(f"m{i}:latest")
        if store.exists(name.display):
            continue
        with store.lock():
            own = store.add_blob_bytes(f"own-{i}-{rng.random()}".encode() * 5000)
            own.mediaType = MEDIA_MODEL
            config = store.add_blob_bytes(f'{{"i": {i}}}'.encode())
            config.mediaType = MEDIA_CONFIG
            common = shared[i % 3].model_copy(
                update={"mediaType": "application/vnd.ollama.image.params"}
            )
            store.write_manifest(name, Manifest(config=config, layers=[own, common]))


def assert_every_reference_resolves(root: Path) -> int:
    store = ModelStore(root)  # the store still opens after any interruption
    records = store.list()
    for record in records:
        for layer in [record.manifest.config, *record.manifest.layers]:
            assert store.has_blob(layer.digest), f"{record.name.display} lost {layer.digest}"
    return len(records)


def run_and_kill(code: str, root: Path, delay: float) -> None:
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(root)], cwd=ROOT)
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


DELETE_ALL = """
    import sys
    from server.models.store import ModelStore
    store = ModelStore(__import__("pathlib").Path(sys.argv[1]))
    for r in store.list():
        store.delete(r.name.display)
"""

PRUNE_LOOP = """
    import sys, pathlib
    from server.models.store import ModelStore
    store = ModelStore(pathlib.Path(sys.argv[1]))
    for path in list(pathlib.Path(sys.argv[1], "manifests").rglob("*"))[::3]:
        if path.is_file():
            path.unlink()  # orphan some blobs, then prune them
    while True:
        store.prune(grace_seconds=0)
"""


def test_rm_and_prune_interrupted_by_kill_9_lose_no_referenced_blob(tmp_path: Path) -> None:
    root = tmp_path / "models"
    rng = random.Random(7)
    for trial in range(12):
        store = ModelStore(root)
        populate(store, 40, seed=trial)
        code = DELETE_ALL if trial % 2 == 0 else PRUNE_LOOP
        run_and_kill(code, root, delay=rng.uniform(0.15, 0.6))
        assert_every_reference_resolves(root)
    # Whatever the kills left behind unreferenced, prune removes; it keeps every referenced blob.
    store = ModelStore(root)
    refs = store.referenced_blobs()
    store.prune(grace_seconds=0)
    remaining = {f"sha256:{p.name[7:]}" for p in (root / "blobs").glob("sha256-*")}
    assert remaining == refs


CREATE_LOOP = """
    import sys, pathlib
    sys.path.insert(0, ".")
    from server.models.store import ModelStore
    from tests.integration_tests.test_preservation import populate
    store = ModelStore(pathlib.Path(sys.argv[1]))
    for round in range(30):
        populate(store, 30 + round, seed=round)
"""


def test_prune_racing_a_create_never_removes_the_new_models_blobs(tmp_path: Path) -> None:
    root = tmp_path / "models"
    ModelStore(root)
    creator = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CREATE_LOOP), str(root)], cwd=ROOT
    )
    store = ModelStore(root)
    while creator.poll() is None:
        store.prune()  # the default grace protects blobs written just before their manifest
        assert_every_reference_resolves(root)
    assert creator.returncode == 0
    assert assert_every_reference_resolves(root) == 59


def test_prune_grace_keeps_fresh_uploads_and_removes_old_orphans(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    fresh = store.add_blob_bytes(b"just uploaded for a create")
    old = store.add_blob_bytes(b"orphaned long ago")
    old_path = store.blob_file(old.digest)
    assert store.prune()[0] == ()  # both are recent: kept
    store.prune(grace_seconds=0, dry_run=True)
    assert old_path.exists()  # dry run removes nothing
    removed, freed = store.prune(grace_seconds=0)
    assert set(removed) == {old_path, store.blob_file(fresh.digest)} and freed > 0


def test_delete_keeps_blobs_other_models_share(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    populate(store, 6, seed=1)
    shared = {r.manifest.layers[1].digest for r in store.list()}
    for i in range(5):
        store.delete(f"m{i}")
    assert [r.name.display for r in store.list()] == ["m5:latest"]
    assert_every_reference_resolves(tmp_path / "models")
    survivors = {f"sha256:{p.name[7:]}" for p in (tmp_path / "models" / "blobs").glob("sha256-*")}
    assert survivors == store.referenced_blobs()  # the other models' own blobs went with them
    assert len(shared) == 3
