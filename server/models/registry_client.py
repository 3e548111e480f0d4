"""Pull models from, and push them to, an Ollama-style (OCI) registry.

Used only in online mode. Pull: `GET /v2/<ns>/<model>/manifests/<tag>`, then each blob from
`/v2/<ns>/<model>/blobs/<digest>`, streamed into the store and checked against its digest
before it is exposed. Push, as Ollama's client does (the Docker registry API v2): for each
blob the registry lacks (`HEAD …/blobs/<digest>`), start an upload (`POST …/blobs/uploads/`)
and finish it in one `PUT <location>?digest=…`; then `PUT …/manifests/<tag>`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx

from server.errors import BadRequest, ModelNotFound
from server.models.manifest import MEDIA_MANIFEST, Layer, Manifest, ModelName
from server.models.store import ModelStore
from server.thread_stream import Emit

USER_AGENT = "terraqore-studio/0.1 (ollama-compatible)"
_CHUNK = 1 << 20


def _base(name: ModelName, insecure: bool) -> str:
    scheme = "http" if insecure else "https"
    return f"{scheme}://{name.registry}/v2/{name.namespace}/{name.model}"


def _client() -> httpx.Client:
    headers = {"Accept": MEDIA_MANIFEST, "User-Agent": USER_AGENT}
    return httpx.Client(
        timeout=httpx.Timeout(30.0, read=300.0), follow_redirects=True, headers=headers
    )


def _send(client: httpx.Client, method: str, url: str, **kwargs: object) -> httpx.Response:
    """One request; a transport failure becomes a 400 that names the registry."""
    try:
        return client.request(method, url, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        raise BadRequest(f"cannot reach registry {httpx.URL(url).host}: {exc}") from exc


def registry_pull(
    store: ModelStore, name: ModelName, insecure: bool, emit: Emit, cancel: threading.Event
) -> None:
    """Pull a model, emitting Ollama's progress statuses."""
    base = _base(name, insecure)
    with _client() as client:
        emit({"status": "pulling manifest"})
        response = _send(client, "GET", f"{base}/manifests/{name.tag}")
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
                    for chunk in blob.iter_bytes(_CHUNK):
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


def _upload(
    client: httpx.Client,
    base: str,
    layer: Layer,
    path: Path,
    emit: Emit,
    cancel: threading.Event,
) -> None:
    """Upload one blob in a monolithic upload (start, then one PUT with the digest)."""
    status = {
        "status": f"pushing {layer.digest[7:19]}",
        "digest": layer.digest,
        "total": layer.size,
    }
    exists = _send(client, "HEAD", f"{base}/blobs/{layer.digest}")
    if exists.status_code == 200:
        emit({**status, "completed": layer.size})
        return
    started = _send(client, "POST", f"{base}/blobs/uploads/")
    location = started.headers.get("location")
    if started.status_code != 202 or not location:
        raise BadRequest(f"registry refused the upload of {layer.digest}: {started.status_code}")
    url = urljoin(f"{base}/", location)
    url += ("&" if "?" in url else "?") + f"digest={layer.digest}"

    def body() -> Iterator[bytes]:
        done = 0
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                if cancel.is_set():
                    raise BadRequest("push cancelled")
                done += len(chunk)
                emit({**status, "completed": done})
                yield chunk

    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(layer.size)}
    finished = _send(client, "PUT", url, content=body(), headers=headers)
    if finished.status_code not in (200, 201):
        raise BadRequest(f"registry refused blob {layer.digest}: {finished.status_code}")


def registry_push(
    store: ModelStore, name: ModelName, insecure: bool, emit: Emit, cancel: threading.Event
) -> None:
    """Push a model's blobs and then its manifest, emitting Ollama's progress statuses."""
    record = store.get(name.display)
    base = _base(name, insecure)
    emit({"status": "retrieving manifest"})
    with _client() as client:
        for layer in [record.manifest.config, *record.manifest.layers]:
            _upload(client, base, layer, record.blob(layer.digest), emit, cancel)
        emit({"status": "pushing manifest"})
        data = record.manifest.model_dump_json(exclude_none=True).encode()
        done = _send(
            client,
            "PUT",
            f"{base}/manifests/{name.tag}",
            content=data,
            headers={"Content-Type": MEDIA_MANIFEST},
        )
        if done.status_code not in (200, 201):
            raise BadRequest(f"registry refused the manifest of {name.display}: {done.status_code}")
    emit({"status": "success"})
