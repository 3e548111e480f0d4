"""Application settings (env prefix `TERRAQORE_`).

What the caller passes explicitly wins; the environment only fills fields the
caller left unset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from server.config import configured_host, parse_host
from server.home import HomeSettings


class Settings(HomeSettings):
    """Settings of the app side: which server to talk to, which models, how to survive failure."""

    ollama_host: str = Field(default_factory=configured_host)
    """Server address: `TERRAQORE_OLLAMA_HOST`, else `OLLAMA_HOST`, else 127.0.0.1:11434."""

    default_model: str = "qwen2.5-coder:0.5b"
    """The chat model used when nothing else is named."""

    agent_bases: dict[str, str] = Field(default_factory=dict)
    """Base model per agent role, replacing its Modelfile's FROM (e.g. `{"coder":
    "qwen2.5-coder:0.5b"}`); `terraqore setup` writes the chosen model set here, and
    `terraqore models sync` applies it."""

    embedding_model: str = "all-minilm"
    """The embedding model served by `/api/embed` (`nomic-embed-text` is the larger option)."""

    num_ctx: int = 4096
    """Context length the model factory asks for explicitly."""

    server_start_timeout: float = 120.0
    """Seconds to wait for a built-in server we started to answer."""

    api_key: str = ""
    """API key sent to the server as `Authorization: Bearer` (`TERRAQORE_API_KEY`)."""

    fallback_url: str = ""
    """Servers used, in order, while the primary's circuit is open: comma-separated URLs of a
    real Ollama, another TerraQore server, or any OpenAI-compatible API (a URL ending in `/v1`
    is taken as OpenAI-compatible)."""

    fallback_api: Literal["auto", "ollama", "openai"] = "auto"
    """Which API the fallback speaks; `auto` decides by the URL."""

    fallback_model: str = ""
    """Model name to ask the fallback for; empty means the same name as the primary."""

    fallback_api_key: str = ""
    """Bearer key for the fallback (`TERRAQORE_FALLBACK_API_KEY`)."""

    retry_attempts: int = 4
    """Attempts per call on connection errors and 503 (exponential backoff with jitter)."""

    breaker_threshold: int = 3
    """Consecutive failed calls that open an endpoint's circuit."""

    breaker_reset: float = 15.0
    """Seconds an open circuit waits before letting one trial call through."""

    @property
    def base_url(self) -> str:
        """The server's base URL, e.g. `http://127.0.0.1:11434`."""
        scheme, host, port = parse_host(self.ollama_host)
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{port}"

    @property
    def logs_dir(self) -> Path:
        """Where server logs go."""
        return self.home / "logs"
