"""The agents' models: Modelfiles in `modelfiles/`, registered through the Ollama API.

Registration uses only Ollama's public API (`/api/show`, `/api/pull`, `/api/blobs`,
`/api/create`), so it works the same against the built-in server and a real Ollama.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import ollama

from server.errors import ServerError
from server.modelfile import Modelfile, parse_modelfile
from terraqore.client.settings import Settings

AGENT_NAMESPACE = "terraqore"
MODELFILES_DIR = Path(__file__).resolve().parents[2] / "modelfiles"

Progress = Callable[[str, int | None, int | None], None]
"""Called with (status, completed, total) while models are pulled, uploaded or created."""


@dataclass(frozen=True)
class AgentModelfile:
    """One Modelfile in `modelfiles/` and the model name it registers as."""

    name: str
    path: Path
    modelfile: Modelfile


def agent_modelfiles(
    directory: Path = MODELFILES_DIR, bases: Mapping[str, str] | None = None
) -> list[AgentModelfile]:
    """Every `*.Modelfile` in the directory, parsed (a broken one raises, naming the file).

    `bases` (role → model) replaces a Modelfile's FROM; by default the configured
    `agent_bases` (the model set `terraqore setup` chose).
    """
    bases = Settings().agent_bases if bases is None else bases
    out = []
    for path in sorted(directory.glob("*.Modelfile")):
        try:
            mf = parse_modelfile(path.read_text(encoding="utf-8"))
        except ServerError as exc:
            raise ValueError(f"{path}: {exc.message}") from exc
        if path.stem in bases:
            mf = replace(mf, from_=bases[path.stem])
        out.append(AgentModelfile(f"{AGENT_NAMESPACE}/{path.stem}", path, mf))
    return out


def normalise(name: str) -> str:
    """`qwen2.5-coder:0.5b` and `library/qwen2.5-coder:0.5b` alike; `latest` made explicit."""
    base = name.removeprefix("registry.ollama.ai/").removeprefix("library/")
    return base if ":" in base.rsplit("/", 1)[-1] else f"{base}:latest"


def models_in_use(directory: Path = MODELFILES_DIR) -> dict[str, list[str]]:
    """Model name → the agent models built on it (their FROM), and each agent model itself."""
    used: dict[str, list[str]] = {}
    for agent in agent_modelfiles(directory):
        used.setdefault(normalise(agent.modelfile.from_), []).append(agent.name)
        used.setdefault(normalise(agent.name), []).append(agent.name)
    return used


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return f"sha256:{h.hexdigest()}"


def upload_blob(base_url: str, path: Path, progress: Progress | None = None) -> str:
    """Upload a file to `/api/blobs` unless the server has it; return its digest.

    The request carries the app's API key (`TERRAQORE_API_KEY`), as the model clients do.
    """
    key = Settings().api_key
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    digest = _file_digest(path)
    url = f"{base_url}/api/blobs/{digest}"
    if httpx.head(url, headers=headers, timeout=30).status_code == 200:
        return digest
    total = path.stat().st_size

    def body() -> Iterator[bytes]:
        done = 0
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                done += len(chunk)
                if progress:
                    progress(f"uploading {path.name}", done, total)
                yield chunk

    response = httpx.post(url, content=body(), headers=headers, timeout=None)
    if response.status_code not in (200, 201):
        raise ValueError(f"uploading {path.name} failed: {response.status_code} {response.text}")
    return digest


def _local_file(value: str, base_dir: Path) -> Path | None:
    candidate = (base_dir / Path(value).expanduser()).resolve()
    looks_like_path = value.startswith((".", "/", "~")) or value.endswith((".gguf", ".bin"))
    return candidate if looks_like_path or candidate.is_file() else None


def create_arguments(
    mf: Modelfile, base_dir: Path, base_url: str, progress: Progress | None = None
) -> dict[str, Any]:
    """Keyword arguments for `ollama.Client.create` from a parsed Modelfile.

    A FROM or ADAPTER that names a local file (relative to the Modelfile) is uploaded.
    """
    args: dict[str, Any] = {}
    source = _local_file(mf.from_, base_dir)
    if source is not None:
        if not source.is_file():
            raise ValueError(f"FROM {mf.from_}: no such file {source}")
        args["files"] = {source.name: upload_blob(base_url, source, progress)}
    else:
        args["from_"] = mf.from_
    if mf.adapters:
        adapters = {}
        for value in mf.adapters:
            path = _local_file(value, base_dir)
            if path is None or not path.is_file():
                raise ValueError(f"ADAPTER {value}: no such file")
            adapters[path.name] = upload_blob(base_url, path, progress)
        args["adapters"] = adapters
    if mf.template is not None:
        args["template"] = mf.template
    if mf.system is not None:
        args["system"] = mf.system
    if mf.parameters:
        args["parameters"] = mf.parameters
    if mf.messages:
        args["messages"] = mf.messages
    if mf.license:
        args["license"] = mf.license
    return args


def _exists(client: ollama.Client, name: str) -> bool:
    try:
        client.show(name)
    except ollama.ResponseError as exc:
        if exc.status_code == 404:
            return False
        raise
    return True


def ensure_base(client: ollama.Client, name: str, progress: Progress | None = None) -> None:
    """Pull a model the server does not have yet (from the package catalog, offline)."""
    if _exists(client, name):
        return
    for status in client.pull(name, stream=True):
        if progress:
            progress(status.status or "", status.completed, status.total)


def register(
    client: ollama.Client, agent: AgentModelfile, base_url: str, progress: Progress | None = None
) -> None:
    """Create (or re-create, idempotently) one agent model."""
    if _local_file(agent.modelfile.from_, agent.path.parent) is None:
        ensure_base(client, agent.modelfile.from_, progress)
    args = create_arguments(agent.modelfile, agent.path.parent, base_url, progress)
    for status in client.create(model=agent.name, stream=True, **args):
        if progress:
            progress(status.status or "", status.completed, status.total)


def sync(
    client: ollama.Client,
    base_url: str,
    directory: Path = MODELFILES_DIR,
    names: list[str] | None = None,
    progress: Progress | None = None,
    bases: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Register every agent model (or those named); return name → digest.

    `bases` replaces Modelfiles' FROM per role (default: the configured `agent_bases`).
    """
    wanted = {normalise(n) for n in names} if names else None
    agents = [
        a
        for a in agent_modelfiles(directory, bases)
        if wanted is None or normalise(a.name) in wanted
    ]
    if wanted is not None and len(agents) < len(wanted):
        known = ", ".join(a.name for a in agent_modelfiles(directory))
        raise ValueError(f"no Modelfile for {sorted(wanted)}; known: {known}")
    for agent in agents:
        register(client, agent, base_url, progress)
    digests = {normalise(m.model or ""): m.digest or "" for m in client.list().models}
    return {a.name: digests.get(normalise(a.name), "") for a in agents}


def ensure_model(client: ollama.Client, name: str, base_url: str) -> None:
    """Make a model available on first use: sync an agent model, pull anything else."""
    if _exists(client, name):
        return
    if normalise(name).startswith(f"{AGENT_NAMESPACE}/"):
        sync(client, base_url, names=[name])
    else:
        ensure_base(client, name)
