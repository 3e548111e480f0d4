"""The model store: manifests plus content-addressed blobs, in Ollama's on-disk layout.

    models/manifests/<registry>/<namespace>/<model>/<tag>   JSON manifest
    models/blobs/sha256-<hex>                               one file per layer

A person who knows Ollama can read it, and blobs are shared by every model that
uses them. Blobs are written atomically (temp file, fsync, rename) and verified
against their digest before they are exposed. A user's file is copied in (hard links are
only for the read-only files of installed packages), blobs we write are private (0600),
and a blob is checked again when a model is loaded (`verify_blob`): cheaply, by its size,
mtime and inode, and with a full hash when they changed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from server.errors import BadRequest, ModelNotFound
from server.home import private_dir
from server.models.blob_files import (
    VerifiedStats,
    copy_hashing,
    read_chunks,
    sha256_file,
    write_hashing,
)
from server.models.manifest import Layer, Manifest, ModelName, ModelRecord, blob_path

_PARTIAL_GRACE_S = 3600  # a partial blob this old was left by an interrupted write
PRUNE_GRACE_S = 600
"""Unreferenced blobs linked or written this recently are kept by prune: an upload to
`/api/blobs` is unreferenced until the `create` that follows it."""
BLOB_MODE = 0o600


class BlobChanged(BadRequest):
    """A stored blob no longer matches its digest: the file changed under the store."""


class ModelStore:
    """Reads and writes manifests and blobs under one models directory.

    `readonly_roots` are other Ollama model directories (for example an existing
    `~/.ollama/models`) that are served in place and never written to.
    """

    def __init__(
        self, root: Path, readonly_roots: Iterable[Path] = (), link_cache: Path | None = None
    ) -> None:
        self.root = root
        # Verified blobs shared between stores by hard link (tests start many servers).
        self.link_cache = link_cache
        self.blobs = root / "blobs"
        self.manifests = root / "manifests"
        self.readonly_roots = [p for p in readonly_roots if p.resolve() != root.resolve()]
        for folder in (root, self.blobs, self.manifests):
            private_dir(folder)
        self.verified = VerifiedStats(root / "verified.json")
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._lock_fd: int | None = None

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's write lock (threads and processes alike; re-entrant in a thread).

        Every change that adds a manifest or removes anything runs under it, so a prune
        never sees a blob whose manifest is still being written.
        """
        with self._thread_lock:
            if self._depth == 0:
                fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._lock_fd = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._lock_fd is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                    os.close(self._lock_fd)
                    self._lock_fd = None

    # -- blobs --------------------------------------------------------------

    def blob_file(self, digest: str) -> Path:
        """The file of a blob: ours, or one in a read-only root."""
        return self.find_blob(digest)

    def find_blob(self, digest: str) -> Path:
        """The first existing file for a digest among our blobs and the read-only roots'."""
        paths = [blob_path(d, digest) for d in self.blob_dirs]
        return next((p for p in paths if p.is_file()), paths[0])

    def has_blob(self, digest: str) -> bool:
        """Whether the blob exists here or in a read-only root."""
        return self.find_blob(digest).is_file()

    def new_partial(self) -> Path:
        """A fresh temporary file in the blobs directory, for a blob being written."""
        fd, name = tempfile.mkstemp(prefix=".partial-", dir=self.blobs)
        os.close(fd)
        return Path(name)

    def publish(
        self, tmp: Path, digest: str, expected: str | None, hashed: bool = True, own: bool = True
    ) -> Path:
        """Expose a fully written temporary file as the blob of `digest` (if it matches).

        `hashed`: its bytes were just hashed to `digest`, so its stamp is recorded for
        `verify_blob`. `own`: the file is ours to make private (not a package's hard link).
        """
        if expected is not None and digest != expected:
            tmp.unlink(missing_ok=True)
            raise BadRequest(f"digest mismatch: expected {expected}, got {digest}")
        target = blob_path(self.blobs, digest)
        if own:
            os.chmod(tmp, BLOB_MODE)
        os.replace(tmp, target)
        if hashed:
            self.verified.record(target)
        return target

    def add_blob_bytes(self, data: bytes) -> Layer:
        """Store bytes as a blob (used for small text and JSON layers)."""
        digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
        if not blob_path(self.blobs, digest).is_file():
            tmp = self.new_partial()
            tmp.write_bytes(data)
            self.publish(tmp, digest, None)
        return Layer(mediaType="", digest=digest, size=len(data))

    def add_blob_from_file(
        self, source: Path, expected: str | None = None, package_file: bool = False
    ) -> Layer:
        """Store a file as a blob.

        A user's file is copied (a reflink where the filesystem has them), and the copy is
        what gets hashed, so changing the file later cannot change the blob. The read-only
        file of an installed package (`package_file`) is hard-linked if it can be.
        """
        tmp = self.new_partial()
        try:
            linked = False
            if package_file:
                digest = sha256_file(source)
                tmp.unlink()
                with contextlib.suppress(OSError):  # another filesystem: copy below
                    os.link(source, tmp)
                    linked = True
            if not linked:
                digest = copy_hashing(source, tmp)
            if expected is not None and digest != expected:
                raise BadRequest(f"digest mismatch for {source.name}: expected {expected}")
            if not blob_path(self.blobs, digest).is_file():
                self.publish(tmp, digest, expected, own=not linked)
        finally:
            tmp.unlink(missing_ok=True)
        return Layer(mediaType="", digest=digest, size=blob_path(self.blobs, digest).stat().st_size)

    def verify_blob(self, path: Path, digest: str) -> None:
        """Check that a blob still holds what its digest says, before a model uses it.

        Cheap when the file is as it was when last verified (size, mtime and inode); hashed
        in full otherwise. A mismatch is `BlobChanged`, and the model is not loaded.
        """
        try:
            if self.verified.unchanged(path):
                return
            actual = sha256_file(path)
        except OSError as exc:
            raise BlobChanged(f"blob {digest[7:19]} cannot be read: {exc.strerror}") from None
        if actual != digest:
            raise BlobChanged(
                f"blob {digest[7:19]} no longer matches its digest (its file changed on disk); "
                "pull or create the model again"
            )
        self.verified.record(path)

    def add_blob_from_chunks(
        self, chunks: Iterable[bytes], expected: str, progress: Any = None
    ) -> Layer:
        """Write a stream of bytes as one blob, hashing as it goes; publish only if it matches.

        `progress`, if given, is called with the number of bytes written so far.
        """
        target = blob_path(self.blobs, expected)
        if target.is_file() or self._link_from_cache(expected):
            return Layer(mediaType="", digest=expected, size=target.stat().st_size)
        tmp = self.new_partial()
        try:
            digest, written = write_hashing(chunks, tmp, progress)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.publish(tmp, digest, expected)
        self._link_to_cache(expected)
        return Layer(mediaType="", digest=expected, size=written)

    def _link_from_cache(self, digest: str) -> bool:
        """Hard-link a verified blob from the link cache; False when it is not there."""
        if self.link_cache is None or not blob_path(self.link_cache, digest).is_file():
            return False
        tmp = self.new_partial()
        tmp.unlink()
        try:
            os.link(blob_path(self.link_cache, digest), tmp)
        except OSError:
            return False
        # Shared with other stores: hashed again on first use here (verify_blob).
        self.publish(tmp, digest, None, hashed=False)
        return True

    def _link_to_cache(self, digest: str) -> None:
        if self.link_cache is None:
            return
        with contextlib.suppress(OSError):
            self.link_cache.mkdir(parents=True, exist_ok=True)
            cached = blob_path(self.link_cache, digest)
            if not cached.exists():
                tmp = self.link_cache / f".partial-{os.getpid()}-{digest[7:19]}"
                os.link(blob_path(self.blobs, digest), tmp)
                os.replace(tmp, cached)

    def add_blob_from_parts(
        self, parts: Iterable[Path], expected: str, progress: Any = None
    ) -> Layer:
        """Concatenate split files into one blob (see `add_blob_from_chunks`)."""
        return self.add_blob_from_chunks(read_chunks(parts), expected, progress)

    # -- manifests ----------------------------------------------------------

    def write_manifest(self, name: ModelName, manifest: Manifest) -> str:
        """Write a manifest atomically; return its digest."""
        data = manifest.model_dump_json(exclude_none=True).encode()
        path = self.manifests / name.manifest_relpath()
        with self.lock():
            for layer in [manifest.config, *manifest.layers]:
                if not self.has_blob(layer.digest):
                    raise BadRequest(f"manifest refers to a missing blob {layer.digest}")
            private_dir(path.parent)
            tmp = path.with_name(f".{path.name}.tmp")
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        return f"sha256:{hashlib.sha256(data).hexdigest()}"

    def _locate(self, name: ModelName) -> tuple[Path, Path] | None:
        for root in [self.root, *self.readonly_roots]:
            path = root / "manifests" / name.manifest_relpath()
            try:
                if path.is_file():
                    return path, root / "blobs"
            except OSError:  # a path the filesystem refuses is simply not a model
                continue
        return None

    @property
    def blob_dirs(self) -> tuple[Path, ...]:
        """Our blobs, then those of the read-only roots."""
        return (self.blobs, *(root / "blobs" for root in self.readonly_roots))

    def _load(self, name: ModelName, path: Path, blobs_dir: Path) -> ModelRecord:
        data = path.read_bytes()
        manifest = Manifest.model_validate_json(data)
        config_file = blob_path(blobs_dir, manifest.config.digest)
        if not config_file.is_file():
            config_file = self.find_blob(manifest.config.digest)
        config = json.loads(config_file.read_text()) if config_file.is_file() else {}
        return ModelRecord(
            name=name,
            manifest=manifest,
            digest=f"sha256:{hashlib.sha256(data).hexdigest()}",
            modified_at=datetime.fromtimestamp(path.stat().st_mtime, tz=UTC),
            blob_dirs=(blobs_dir, *(d for d in self.blob_dirs if d != blobs_dir)),
            config=config,
            verify=self.verify_blob,
        )

    def get(self, name: str) -> ModelRecord:
        """The record of a model; `ModelNotFound`, or `BadRequest` for an invalid name."""
        parsed = ModelName.parse(name)
        found = self._locate(parsed)
        if found is None:
            raise ModelNotFound(name)
        return self._load(parsed, *found)

    def exists(self, name: str) -> bool:
        """Whether a model of that name is registered."""
        try:
            self.get(name)
        except (ModelNotFound, BadRequest):
            return False
        return True

    def _walk(self, root: Path) -> Iterator[tuple[ModelName, Path]]:
        base = root / "manifests"
        if not base.is_dir():
            return
        for path in sorted(base.glob("*/*/*/*")):
            if path.is_file() and not path.name.startswith("."):
                rel = path.relative_to(base).parts
                yield ModelName(*rel), path

    def list(self) -> list[ModelRecord]:
        """All models, our own first, then read-only ones not shadowed by ours."""
        seen: set[ModelName] = set()
        out: list[ModelRecord] = []
        for root in [self.root, *self.readonly_roots]:
            for name, path in self._walk(root):
                if name in seen:
                    continue
                seen.add(name)
                try:
                    out.append(self._load(name, path, root / "blobs"))
                except (ValueError, OSError):
                    continue  # a damaged manifest is skipped in listings, not fatal
        return out

    # -- removal --------------------------------------------------------------

    def referenced_blobs(self) -> set[str]:
        """Digests referenced by any manifest in our store (config and layers)."""
        refs: set[str] = set()
        for _, path in self._walk(self.root):
            try:
                manifest = Manifest.model_validate_json(path.read_bytes())
            except (ValueError, OSError):
                # An unreadable manifest might still reference blobs: keep everything.
                raise BadRequest(f"cannot read manifest {path}; refusing to remove blobs") from None
            refs.add(manifest.config.digest)
            refs.update(layer.digest for layer in manifest.layers)
        return refs

    def delete(self, name: str) -> ModelRecord:
        """Remove a model's manifest, then the blobs no other manifest references.

        The manifest goes first: if the process dies part-way, what is left are
        unreferenced blobs, which `prune` removes later. A referenced blob is never removed.
        """
        parsed = ModelName.parse(name)
        with self.lock():
            path = self.manifests / parsed.manifest_relpath()
            if not path.is_file():
                if self._locate(parsed) is not None:
                    raise BadRequest(f"model '{name}' is in a read-only model directory")
                raise ModelNotFound(name)
            record = self._load(parsed, path, self.blobs)
            path.unlink()
            for parent in list(path.parents)[: len(parsed.manifest_relpath().parts) - 1]:
                with contextlib.suppress(OSError):
                    parent.rmdir()
            mine = {record.manifest.config.digest, *(lay.digest for lay in record.manifest.layers)}
            for digest in mine - self.referenced_blobs():
                blob_path(self.blobs, digest).unlink(missing_ok=True)
                self.verified.forget(blob_path(self.blobs, digest))
        return record

    def prune(
        self, dry_run: bool = False, grace_seconds: float = PRUNE_GRACE_S
    ) -> tuple[tuple[Path, ...], int]:
        """Remove blobs no manifest references (and stale partial writes); return (paths, bytes).

        Blobs changed within `grace_seconds` (by ctime, which linking and renaming update)
        are kept, so a blob uploaded for a `create` that has not happened yet survives.
        """
        removed: list[Path] = []
        freed = 0
        with self.lock():
            refs = self.referenced_blobs()
            now = time.time()
            for path in sorted(self.blobs.iterdir()):
                name = path.name
                try:
                    # Another process may publish or remove a file while we look: skip it then.
                    st = path.stat()
                except FileNotFoundError:
                    continue
                if name.startswith(".partial-"):
                    keep = now - st.st_mtime < _PARTIAL_GRACE_S
                else:
                    referenced = f"sha256:{name[7:]}" in refs
                    keep = not name.startswith("sha256-") or referenced
                    keep = keep or now - st.st_ctime < grace_seconds
                if keep:
                    continue
                if not dry_run:
                    path.unlink(missing_ok=True)
                    self.verified.forget(path)
                removed.append(path)
                freed += st.st_size
        return tuple(removed), freed

    def copy(self, source: str, destination: str) -> str:
        """Point a new name at the same manifest (blobs are shared, nothing is copied)."""
        record = self.get(source)
        return self.write_manifest(ModelName.parse(destination), record.manifest)
