"""The model store: manifests plus content-addressed blobs, in Ollama's on-disk layout.

    models/manifests/<registry>/<namespace>/<model>/<tag>   JSON manifest
    models/blobs/sha256-<hex>                               one file per layer

A person who knows Ollama can read it, and blobs are shared by every model that
uses them. Blobs are written atomically (temp file, fsync, rename) and verified
against their digest before they are exposed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from server.errors import BadRequest, ModelNotFound

DEFAULT_REGISTRY = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"

MEDIA_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_MODEL = "application/vnd.ollama.image.model"
MEDIA_TEMPLATE = "application/vnd.ollama.image.template"
MEDIA_SYSTEM = "application/vnd.ollama.image.system"
MEDIA_PARAMS = "application/vnd.ollama.image.params"
MEDIA_LICENSE = "application/vnd.ollama.image.license"
MEDIA_MESSAGES = "application/vnd.ollama.image.messages"
MEDIA_ADAPTER = "application/vnd.ollama.image.adapter"
# Our one non-GGUF weight format: an ONNX sentence-embedding model and its tokenizer.
MEDIA_ONNX = "application/vnd.terraqore.image.onnx"
MEDIA_TOKENIZER = "application/vnd.terraqore.image.tokenizer"

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelName:
    """A fully qualified model name: registry/namespace/model:tag."""

    registry: str
    namespace: str
    model: str
    tag: str

    @classmethod
    def parse(cls, name: str) -> ModelName:
        """Parse `model`, `model:tag`, `ns/model:tag` or `registry/ns/model:tag`."""
        text = name.strip()
        if not text or any(c.isspace() for c in text) or ".." in text:
            raise BadRequest(f"invalid model name {name!r}")
        tag = DEFAULT_TAG
        last = text.rsplit("/", 1)[-1]
        if ":" in last:
            base, tag = text.rsplit(":", 1)
        else:
            base = text
        parts = [p for p in base.split("/") if p]
        if not parts or len(parts) > 3 or not tag:
            raise BadRequest(f"invalid model name {name!r}")
        registry, namespace = DEFAULT_REGISTRY, DEFAULT_NAMESPACE
        if len(parts) == 3:
            registry, namespace, model = parts
        elif len(parts) == 2:
            namespace, model = parts
        else:
            model = parts[0]
        for part in (registry, namespace, model, tag):
            if part.startswith(".") or "\\" in part or "\x00" in part:
                raise BadRequest(f"invalid model name {name!r}")
        return cls(registry, namespace, model.lower(), tag)

    @property
    def display(self) -> str:
        """The short form Ollama shows: `qwen2.5-coder:0.5b`, `terraqore/idea:latest`."""
        if self.registry == DEFAULT_REGISTRY and self.namespace == DEFAULT_NAMESPACE:
            return f"{self.model}:{self.tag}"
        if self.registry == DEFAULT_REGISTRY:
            return f"{self.namespace}/{self.model}:{self.tag}"
        return f"{self.registry}/{self.namespace}/{self.model}:{self.tag}"

    def manifest_relpath(self) -> Path:
        """Path of the manifest below `manifests/`."""
        return Path(self.registry, self.namespace, self.model, self.tag)


class Layer(BaseModel):
    """One manifest entry: a blob and its media type."""

    model_config = ConfigDict(extra="allow")

    mediaType: str
    digest: str
    size: int


class Manifest(BaseModel):
    """An Ollama (Docker v2) manifest."""

    model_config = ConfigDict(extra="allow")

    schemaVersion: int = 2
    mediaType: str = MEDIA_MANIFEST
    config: Layer
    layers: list[Layer] = Field(default_factory=list)


@dataclass
class ModelRecord:
    """Everything the server needs to know about one registered model."""

    name: ModelName
    manifest: Manifest
    digest: str
    modified_at: datetime
    blobs_dir: Path
    config: dict[str, Any] = field(default_factory=dict)

    def _layer(self, media: str) -> Layer | None:
        return next((lay for lay in self.manifest.layers if lay.mediaType == media), None)

    def _text(self, media: str) -> str:
        layer = self._layer(media)
        if layer is None:
            return ""
        return blob_path(self.blobs_dir, layer.digest).read_text(encoding="utf-8")

    @property
    def format(self) -> str:
        """`gguf` or `onnx`."""
        return str(self.config.get("model_format", "gguf"))

    @property
    def model_path(self) -> Path:
        """The weights file (GGUF or ONNX)."""
        layer = self._layer(MEDIA_MODEL) or self._layer(MEDIA_ONNX)
        if layer is None:
            raise BadRequest(f"model '{self.name.display}' has no weights layer")
        return blob_path(self.blobs_dir, layer.digest)

    @property
    def tokenizer_path(self) -> Path | None:
        """The tokenizer file of an ONNX model."""
        layer = self._layer(MEDIA_TOKENIZER)
        return blob_path(self.blobs_dir, layer.digest) if layer else None

    @property
    def adapter_paths(self) -> list[Path]:
        """LoRA adapters, in manifest order."""
        return [
            blob_path(self.blobs_dir, lay.digest)
            for lay in self.manifest.layers
            if lay.mediaType == MEDIA_ADAPTER
        ]

    @property
    def template(self) -> str:
        """A TEMPLATE override; empty means the GGUF's own chat template."""
        return self._text(MEDIA_TEMPLATE)

    @property
    def system(self) -> str:
        """The SYSTEM prompt."""
        return self._text(MEDIA_SYSTEM)

    @property
    def license(self) -> str:
        """The LICENSE text."""
        return self._text(MEDIA_LICENSE)

    @property
    def parameters(self) -> dict[str, Any]:
        """PARAMETERs as a dict (lists for repeated keys such as `stop`)."""
        text = self._text(MEDIA_PARAMS)
        return dict(json.loads(text)) if text else {}

    @property
    def messages(self) -> list[dict[str, Any]]:
        """MESSAGE history that precedes every chat."""
        text = self._text(MEDIA_MESSAGES)
        return list(json.loads(text)) if text else []

    @property
    def size(self) -> int:
        """Bytes of all layers."""
        return sum(lay.size for lay in self.manifest.layers)

    @property
    def details(self) -> dict[str, Any]:
        """The `details` object of `/api/tags` and `/api/show`."""
        family = str(self.config.get("model_family", ""))
        return {
            "parent_model": str(self.config.get("parent_model", "")),
            "format": self.format,
            "family": family,
            "families": list(self.config.get("model_families") or ([family] if family else [])),
            "parameter_size": str(self.config.get("model_type", "")),
            "quantization_level": str(self.config.get("file_type", "")),
        }


def blob_path(blobs_dir: Path, digest: str) -> Path:
    """The file of a `sha256:<hex>` digest."""
    algo, _, hexdigest = digest.partition(":")
    if (
        algo != "sha256"
        or len(hexdigest) != 64
        or not all(c in "0123456789abcdef" for c in hexdigest)
    ):
        raise BadRequest(f"invalid digest {digest!r}")
    return blobs_dir / f"sha256-{hexdigest}"


def read_chunks(paths: Iterable[Path]) -> Iterator[bytes]:
    """The bytes of several files, in order, in 1 MiB chunks."""
    for path in paths:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                yield chunk


def sha256_file(path: Path) -> str:
    """`sha256:<hex>` of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return f"sha256:{h.hexdigest()}"


class ModelStore:
    """Reads and writes manifests and blobs under one models directory.

    `readonly_roots` are other Ollama model directories (for example an existing
    `~/.ollama/models`) that are served in place and never written to.
    """

    def __init__(self, root: Path, readonly_roots: Iterable[Path] = ()) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.manifests = root / "manifests"
        self.readonly_roots = [p for p in readonly_roots if p.resolve() != root.resolve()]
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.manifests.mkdir(parents=True, exist_ok=True)

    # -- blobs --------------------------------------------------------------

    def has_blob(self, digest: str) -> bool:
        """Whether the blob exists locally."""
        return blob_path(self.blobs, digest).is_file()

    def _publish(self, tmp: Path, digest: str, expected: str | None) -> Path:
        if expected is not None and digest != expected:
            tmp.unlink(missing_ok=True)
            raise BadRequest(f"digest mismatch: expected {expected}, got {digest}")
        target = blob_path(self.blobs, digest)
        os.replace(tmp, target)
        return target

    def _tempfile(self) -> Path:
        fd, name = tempfile.mkstemp(prefix=".partial-", dir=self.blobs)
        os.close(fd)
        return Path(name)

    def add_blob_bytes(self, data: bytes) -> Layer:
        """Store bytes as a blob (used for small text and JSON layers)."""
        digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
        if not self.has_blob(digest):
            tmp = self._tempfile()
            tmp.write_bytes(data)
            self._publish(tmp, digest, None)
        return Layer(mediaType="", digest=digest, size=len(data))

    def add_blob_from_file(self, source: Path, expected: str | None = None) -> Layer:
        """Store a file as a blob without copying when possible.

        The file is hashed, then hard-linked into the store (same filesystem), and
        copied only when a hard link is impossible.
        """
        digest = sha256_file(source)
        if expected is not None and digest != expected:
            raise BadRequest(f"digest mismatch for {source}: expected {expected}, got {digest}")
        target = blob_path(self.blobs, digest)
        if not target.is_file():
            tmp = self._tempfile()
            tmp.unlink()
            try:
                os.link(source, tmp)
            except OSError:
                shutil.copyfile(source, tmp)
            self._publish(tmp, digest, expected)
        return Layer(mediaType="", digest=digest, size=target.stat().st_size)

    def add_blob_from_chunks(
        self, chunks: Iterable[bytes], expected: str, progress: Any = None
    ) -> Layer:
        """Write a stream of bytes as one blob, hashing as it goes; publish only if it matches.

        `progress`, if given, is called with the number of bytes written so far.
        """
        target = blob_path(self.blobs, expected)
        if target.is_file():
            return Layer(mediaType="", digest=expected, size=target.stat().st_size)
        tmp = self._tempfile()
        h = hashlib.sha256()
        written = 0
        try:
            with tmp.open("wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    h.update(chunk)
                    written += len(chunk)
                    if progress is not None:
                        progress(written)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._publish(tmp, f"sha256:{h.hexdigest()}", expected)
        return Layer(mediaType="", digest=expected, size=written)

    def add_blob_from_parts(
        self, parts: Iterable[Path], expected: str, progress: Any = None
    ) -> Layer:
        """Concatenate split files into one blob (see `add_blob_from_chunks`)."""
        return self.add_blob_from_chunks(read_chunks(parts), expected, progress)

    # -- manifests ----------------------------------------------------------

    def write_manifest(self, name: ModelName, manifest: Manifest) -> str:
        """Write a manifest atomically; return its digest."""
        for layer in [manifest.config, *manifest.layers]:
            if not self.has_blob(layer.digest):
                raise BadRequest(f"manifest refers to a missing blob {layer.digest}")
        data = manifest.model_dump_json(exclude_none=True).encode()
        path = self.manifests / name.manifest_relpath()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return f"sha256:{hashlib.sha256(data).hexdigest()}"

    def _locate(self, name: ModelName) -> tuple[Path, Path] | None:
        for root in [self.root, *self.readonly_roots]:
            path = root / "manifests" / name.manifest_relpath()
            if path.is_file():
                return path, root / "blobs"
        return None

    def _load(self, name: ModelName, path: Path, blobs_dir: Path) -> ModelRecord:
        data = path.read_bytes()
        manifest = Manifest.model_validate_json(data)
        config_file = blob_path(blobs_dir, manifest.config.digest)
        config = json.loads(config_file.read_text()) if config_file.is_file() else {}
        return ModelRecord(
            name=name,
            manifest=manifest,
            digest=f"sha256:{hashlib.sha256(data).hexdigest()}",
            modified_at=datetime.fromtimestamp(path.stat().st_mtime, tz=UTC),
            blobs_dir=blobs_dir,
            config=config,
        )

    def get(self, name: str) -> ModelRecord:
        """The record of a model, or `ModelNotFound`."""
        try:
            parsed = ModelName.parse(name)
        except BadRequest:
            raise ModelNotFound(name) from None
        found = self._locate(parsed)
        if found is None:
            raise ModelNotFound(name)
        return self._load(parsed, *found)

    def exists(self, name: str) -> bool:
        """Whether a model of that name is registered."""
        try:
            self.get(name)
        except ModelNotFound:
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
