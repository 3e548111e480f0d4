"""Model manifests in Ollama's format: names, layers, media types, and what a manifest says.

A manifest lists content-addressed blobs (`sha256-<hex>`) by media type; `ModelRecord`
reads a model's template, system prompt, parameters and weights path from them.

A blob never changes (its name is its digest), so a text layer is read from disk once per
digest and then served from memory: the event loop asks for system prompts and templates
on every request, and a slow disk must not stall it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from server.errors import BadRequest
from server.modelfile import quote_value

DEFAULT_REGISTRY = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"
# Ollama's name rules: a letter, digit or `_` first; `.` nowhere in the namespace, `:` only in
# the registry (host:port); at most 350 characters for the registry and 80 for the rest.
_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}")
_NAMESPACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,79}")
_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}")
_MAX_NAME = 350 + 3 * 81

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
_TEXT_MEDIA = {MEDIA_TEMPLATE, MEDIA_SYSTEM, MEDIA_PARAMS, MEDIA_LICENSE, MEDIA_MESSAGES}
_WEIGHTS_MEDIA = {MEDIA_MODEL, MEDIA_ONNX, MEDIA_TOKENIZER, MEDIA_ADAPTER}


@dataclass(frozen=True)
class ModelName:
    """A fully qualified model name: registry/namespace/model:tag."""

    registry: str
    namespace: str
    model: str
    tag: str

    @classmethod
    def parse(cls, name: str) -> ModelName:
        """Parse `model`, `model:tag`, `ns/model:tag` or `registry/ns/model:tag`.

        Each part follows Ollama's rules (its characters and length: the registry up to 350,
        the others up to 80), so a name always makes a short, safe manifest path.
        """
        text = name.strip()
        if not text or len(text) > _MAX_NAME:
            raise BadRequest(f"invalid model name {name[:100]!r}")
        tag = DEFAULT_TAG
        last = text.rsplit("/", 1)[-1]
        if ":" in last:
            base, tag = text.rsplit(":", 1)
        else:
            base = text
        parts = base.split("/")
        if len(parts) > 3:
            raise BadRequest(f"invalid model name {name[:100]!r}")
        registry, namespace = DEFAULT_REGISTRY, DEFAULT_NAMESPACE
        if len(parts) == 3:
            registry, namespace, model = parts
        elif len(parts) == 2:
            namespace, model = parts
        else:
            model = parts[0]
        checks = ((_HOST, registry), (_NAMESPACE, namespace), (_PART, model), (_PART, tag))
        if not all(pattern.fullmatch(part) for pattern, part in checks):
            raise BadRequest(f"invalid model name {name[:100]!r}")
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


@lru_cache(maxsize=512)
def _text_layer(digest: str, blob_dirs: tuple[Path, ...]) -> str:
    """The text of a small layer (template, system, parameters, messages, license)."""
    paths = [blob_path(d, digest) for d in blob_dirs]
    path = next((p for p in paths if p.is_file()), paths[0])
    return path.read_text(encoding="utf-8")


def text_layer_cache_info() -> tuple[int, int]:
    """(disk reads, reads served from memory) of text layers so far."""
    info = _text_layer.cache_info()
    return info.misses, info.hits


@dataclass
class ModelRecord:
    """Everything the server needs to know about one registered model."""

    name: ModelName
    manifest: Manifest
    digest: str
    modified_at: datetime
    blob_dirs: tuple[Path, ...]
    """Where this model's blobs may be: our store first, then read-only Ollama directories."""
    config: dict[str, Any] = field(default_factory=dict)
    verify: Callable[[Path, str], None] | None = None
    """Checks a blob against its digest before its file is used (the store's `verify_blob`)."""

    def blob(self, digest: str) -> Path:
        """The file of one of this model's blobs, wherever it is stored."""
        paths = [blob_path(d, digest) for d in self.blob_dirs]
        return next((p for p in paths if p.is_file()), paths[0])

    def verified_blob(self, digest: str) -> Path:
        """The file of a blob the model is about to use, checked against its digest."""
        path = self.blob(digest)
        if self.verify is not None:
            self.verify(path, digest)
        return path

    def _layer(self, media: str) -> Layer | None:
        return next((lay for lay in self.manifest.layers if lay.mediaType == media), None)

    def _text(self, media: str) -> str:
        layer = self._layer(media)
        if layer is None:
            return ""
        return _text_layer(layer.digest, self.blob_dirs)

    def read_text_layers(self) -> None:
        """Read every text layer now (off the event loop), so later reads come from memory."""
        for layer in self.manifest.layers:
            if layer.mediaType in _TEXT_MEDIA:
                _text_layer(layer.digest, self.blob_dirs)

    @property
    def weights_digests(self) -> tuple[str, ...]:
        """The layers that decide what a runner loads (weights, adapters, tokenizer), in order.

        Model names that agree on these (and on load options) can share one loaded runner.
        """
        return tuple(lay.digest for lay in self.manifest.layers if lay.mediaType in _WEIGHTS_MEDIA)

    @property
    def format(self) -> str:
        """`gguf` or `onnx`."""
        return str(self.config.get("model_format", "gguf"))

    def _weights_layer(self) -> Layer:
        layer = self._layer(MEDIA_MODEL) or self._layer(MEDIA_ONNX)
        if layer is None:
            raise BadRequest(f"model '{self.name.display}' has no weights layer")
        return layer

    @property
    def model_path(self) -> Path:
        """The weights file (GGUF or ONNX), checked against its digest: for loading."""
        return self.verified_blob(self._weights_layer().digest)

    @property
    def weights_file(self) -> Path:
        """The weights file unchecked: for showing it and reading its metadata."""
        return self.blob(self._weights_layer().digest)

    @property
    def tokenizer_path(self) -> Path | None:
        """The tokenizer file of an ONNX model, checked against its digest."""
        layer = self._layer(MEDIA_TOKENIZER)
        return self.verified_blob(layer.digest) if layer else None

    @property
    def adapter_paths(self) -> list[Path]:
        """LoRA adapters, in manifest order, checked against their digests."""
        return [self.verified_blob(lay.digest) for lay in self.adapter_layers]

    @property
    def adapter_layers(self) -> list[Layer]:
        """The manifest's LoRA adapter layers, in order."""
        return [lay for lay in self.manifest.layers if lay.mediaType == MEDIA_ADAPTER]

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


def name_for_file(path: Path) -> str:
    """The model name a GGUF file is registered under: its lower-cased stem, `:latest`."""
    stem = re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower()).strip("-._")[:80] or "model"
    return f"{stem}:latest"


def looks_like_path(model: str) -> bool:
    """Whether a pull target names a local file rather than a model."""
    return model.startswith(("file://", "/", "./", "../", "~")) or model.endswith(".gguf")


def render_modelfile(record: ModelRecord) -> str:
    """A Modelfile that would recreate the model.

    TEMPLATE appears only when the model overrides its template; otherwise the GGUF's own
    chat template applies, and a Jinja template is not valid Modelfile TEMPLATE text.
    """
    template = record.template
    out = [
        '# Modelfile generated by "terraqore show"',
        "# To build a new Modelfile based on this, replace FROM with:",
        f"# FROM {record.name.display}",
        "",
        f"FROM {record.weights_file}",
    ]
    if template:
        out.append(f'TEMPLATE """{template}"""')
    if record.system:
        out.append(f'SYSTEM """{record.system}"""')
    for adapter in record.adapter_layers:
        out.append(f"ADAPTER {record.blob(adapter.digest)}")
    for key, value in sorted(record.parameters.items()):
        for item in value if isinstance(value, list) else [value]:
            out.append(f"PARAMETER {key} {quote_value(item)}")
    for msg in record.messages:
        out.append(f"MESSAGE {msg.get('role', 'user')} {quote_value(msg.get('content', ''))}")
    if record.license:
        out.append(f'LICENSE """{record.license}"""')
    return "\n".join(out) + "\n"
