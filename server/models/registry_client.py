"""Pull models from an Ollama-style (OCI) registry: the Ollama library, `hf.co/…`, or your own.

Used only in online mode. `GET /v2/<ns>/<model>/manifests/<tag>`, then each blob from
`/v2/<ns>/<model>/blobs/<digest>`, streamed into the store and checked against its digest
before it is exposed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx

from server.errors import BadRequest, ModelNotFound
from server.models.manifest import MEDIA_MANIFEST, Manifest, ModelName
from server.models.store import ModelStore
from server.runtime.thread_stream import Emit

USER_AGENT = "terraqore-studio/0.1 (ollama-compatible)"


def registry_pull(
    store: ModelStore, name: ModelName, insecure: bool, emit: Emit, cancel: threading.Event
) -> None:
    """Pull a model, emitting Ollama's progress statuses."""
    scheme = "http" if insecure else "https"
    base = f"{scheme}://{name.registry}/v2/{name.namespace}/{name.model}"
    headers = {"Accept": MEDIA_MANIFEST, "User-Agent": USER_AGENT}
    timeout = httpx.Timeout(30.0, read=300.0)
    with httpx.Client(timeout=timeout, follow_redirects=True, headers=headers) as client:
        emit({"status": "pulling manifest"})
        try:
            response = client.get(f"{base}/manifests/{name.tag}")
        except httpx.HTTPError as exc:
            raise BadRequest(f"cannot reach registry {name.registry}: {exc}") from exc
        if response.status_code == 404:
            raise ModelNotFound(name.display)
        if response.status_code != 200:
            raise BadRequest(f"registry answered {response.status_code} for {name.display}")
        try:
            manifest = Manifest.model_validate_json(response.content)
        except ValueError as exc:
            raise BadRequest(f"registry sent an invalid manifest: {exc}") from exc
        for layer in [manifest.config, *manifest.layers]:
            status = {
                "status": f"pulling {layer.digest[7:19]}",
                "digest": layer.digest,
                "total": layer.size,
            }
            if store.has_blob(layer.digest):
                emit({**status, "completed": layer.size})
                continue

            def chunks(url: str = f"{base}/blobs/{layer.digest}") -> Iterator[bytes]:
                with client.stream("GET", url) as blob:
                    if blob.status_code != 200:
                        raise BadRequest(f"registry answered {blob.status_code} for {url}")
                    for chunk in blob.iter_bytes(1 << 20):
                        if cancel.is_set():
                            raise BadRequest("pull cancelled")
                        yield chunk

            store.add_blob_from_chunks(
                chunks(),
                expected=layer.digest,
                progress=lambda done, s=status: emit({**s, "completed": done}),
            )
    emit({"status": "verifying sha256 digest"})
    emit({"status": "writing manifest"})
    store.write_manifest(name, manifest)
    emit({"status": "success"})
