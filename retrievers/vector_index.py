"""The FAISS index over the lake's chunk embeddings, persisted with a manifest.

The index is a derived cache: everything in it can be rebuilt from `chunk_embeddings`.
Its manifest ties it to one lake and one embedding model. Files are written under new
names first and the manifest is replaced last, so a reader sees the old index or the new
one, never half of each.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np

from lake.config import LakeSettings
from retrievers.config import RetrievalSettings
from server.home import private_dir, private_file

MANIFEST = "manifest.json"
FORMAT = 1
IndexKind = Literal["flat", "ivf", "hnsw"]


class IndexUnreadable(RuntimeError):
    """The index files are missing, damaged or from another format; rebuild them."""


def index_dir(lake: LakeSettings) -> Path:
    """Where the index of a lake lives: `<home>/index`."""
    return lake.home / "index"


@dataclass
class Manifest:
    """What an index holds and what it was built from."""

    lake_id: str
    embedding_model: str
    dim: int
    kind: IndexKind
    chunk_count: int = 0
    last_chunk_id: int = 0
    format: int = FORMAT
    index_file: str = ""
    ids_file: str = ""
    built_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    @classmethod
    def read(cls, folder: Path) -> Manifest | None:
        """The manifest in `folder`, or None if there is none."""
        path = folder / MANIFEST
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise IndexUnreadable(f"the index manifest {path} is damaged: {exc}") from exc


def kind_for(count: int, settings: RetrievalSettings) -> IndexKind:
    """Exact search while the lake is small, the configured ANN index above that."""
    return "flat" if count <= settings.flat_max_chunks else settings.ann_kind


def _new_index(dim: int, kind: IndexKind, sample: np.ndarray, settings: RetrievalSettings) -> Any:
    if kind == "ivf":
        nlist = max(1, min(int(4 * math.sqrt(len(sample))), len(sample) // 39))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        train = sample[rng.permutation(len(sample))[: nlist * 64]]
        index.train(train)
        return index
    if kind == "hnsw":
        hnsw = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        return faiss.IndexIDMap2(hnsw)
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


class VectorIndex:
    """A FAISS index of chunk ids and their vectors, plus its manifest."""

    def __init__(self, index: Any, ids: np.ndarray, manifest: Manifest) -> None:
        self.index = index
        self.ids = np.asarray(ids, dtype=np.int64)
        self.manifest = manifest

    @classmethod
    def build(
        cls,
        ids: np.ndarray,
        vectors: np.ndarray,
        manifest: Manifest,
        settings: RetrievalSettings,
    ) -> VectorIndex:
        """A new index of these vectors, of the kind the manifest names."""
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        index = _new_index(manifest.dim, manifest.kind, vectors, settings)
        built = cls(index, np.empty(0, dtype=np.int64), manifest)
        built.add(ids, vectors)
        return built

    @classmethod
    def load(cls, folder: Path) -> VectorIndex | None:
        """The index saved in `folder`, None if there is none; IndexUnreadable if damaged."""
        manifest = Manifest.read(folder)
        if manifest is None:
            return None
        if manifest.format != FORMAT:
            raise IndexUnreadable(f"the index in {folder} has format {manifest.format}")
        try:
            index = faiss.read_index(str(folder / manifest.index_file))
            ids = np.load(folder / manifest.ids_file)
        except (RuntimeError, OSError, ValueError) as exc:
            raise IndexUnreadable(f"the index in {folder} cannot be read: {exc}") from exc
        if index.ntotal != len(ids):
            raise IndexUnreadable(
                f"the index in {folder} has {index.ntotal} vectors for {len(ids)} ids"
            )
        return cls(index, ids, manifest)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under their chunk ids."""
        if len(ids) == 0:
            return
        self.index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
        )
        self.ids = np.union1d(self.ids, np.asarray(ids, dtype=np.int64))
        self._touch()

    def remove(self, ids: np.ndarray) -> bool:
        """Remove chunk ids; False when the index kind cannot remove (HNSW), so rebuild."""
        if len(ids) == 0:
            return True
        try:
            self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))
        except RuntimeError:
            return False
        self.ids = np.setdiff1d(self.ids, ids)
        self._touch()
        return True

    def _touch(self) -> None:
        self.manifest.chunk_count = len(self.ids)
        self.manifest.last_chunk_id = int(self.ids[-1]) if len(self.ids) else 0
        self.manifest.updated_at = time.time()

    def search(
        self, query: np.ndarray, k: int, settings: RetrievalSettings, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        """The k nearest chunk ids with their cosine scores, within `allowed` if given."""
        if self.index.ntotal == 0 or k <= 0:
            return []
        selector = faiss.IDSelectorBatch(allowed) if allowed is not None else None
        params: Any
        if self.manifest.kind == "ivf":
            params = faiss.SearchParametersIVF(sel=selector, nprobe=settings.ivf_nprobe)
        elif self.manifest.kind == "hnsw":
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=settings.hnsw_ef_search)
        else:
            params = faiss.SearchParameters(sel=selector)
        faiss.omp_set_num_threads(1)  # one query: OpenMP's start-up costs more than it saves
        scores, labels = self.index.search(
            np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k, params=params
        )
        return [(int(i), float(s)) for i, s in zip(labels[0], scores[0], strict=True) if i >= 0]

    def save(self, folder: Path) -> None:
        """Write the index and its ids under new names, then the manifest, then tidy up."""
        private_dir(folder)  # the vectors are the lake's text in another form: owner only
        stem = uuid.uuid4().hex[:12]
        index_file, ids_file = f"chunks-{stem}.faiss", f"ids-{stem}.npy"
        faiss.write_index(self.index, str(folder / index_file))
        np.save(folder / ids_file, self.ids)
        for name in (index_file, ids_file):
            private_file(folder / name)
        self.manifest.index_file, self.manifest.ids_file = index_file, ids_file
        tmp = folder / f".{MANIFEST}.{stem}"
        tmp.write_text(json.dumps(asdict(self.manifest), indent=2), encoding="utf-8")
        private_file(tmp)
        tmp.replace(folder / MANIFEST)
        for old in folder.iterdir():
            if old.name not in (MANIFEST, index_file, ids_file) and old.suffix in (
                ".faiss",
                ".npy",
            ):
                old.unlink(missing_ok=True)
