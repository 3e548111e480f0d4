"""Lake settings (env prefix `TERRAQORE_`); what the caller passes wins over the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from server.home import HomeSettings


class LakeSettings(HomeSettings):
    """Where the lake lives (`home/lake/lake.duckdb`), how it is keyed, and how silver is made.

    `online` (shared) gates the fetcher: off, it refuses every request.
    """

    lake_key: SecretStr | None = None
    """Encryption key (`TERRAQORE_LAKE_KEY`); without it a key file is created (mode 0600)."""

    allowed_hosts: str = ""
    """Hosts or IPs exempt from the private-address block (comma-separated; tests: 127.0.0.1)."""

    allow_domains: str = ""
    """If set, only these domains (and their subdomains) may be fetched."""

    deny_domains: str = ""
    """Domains (and subdomains) never fetched."""

    allow_http: bool = False
    """Allow plain http:// (it is always allowed for `allowed_hosts`)."""

    fetch_timeout: float = 20.0
    """Seconds for connecting and for each read."""

    fetch_max_bytes: int = 5 * 1024 * 1024
    """Largest body read; a larger page is refused."""

    host_interval: float = 1.0
    """Seconds between two requests to the same host."""

    user_agent: str = "TerraQoreStudio/0.1 (local research assistant; offline-first)"
    """The User-Agent every request sends."""

    search_backend: str = "ddgs"
    """`ddgs` (DuckDuckGo through the `ddgs` package) or the URL of a SearxNG-style JSON API."""

    search_results: int = 5
    """Result pages fetched per search."""

    min_chars: int = 200
    """Shorter cleaned texts are not promoted to silver."""

    languages: str = "en"
    """Languages kept in silver (comma-separated; `*` keeps all)."""

    chunk_tokens: int = 256
    """Target chunk size in tokens (MiniLM's window)."""

    chunk_overlap: int = 32
    """Tokens shared by consecutive chunks."""

    near_duplicate_bits: int = 3
    """SimHash distance at or below which two texts are near-duplicates."""

    busy_timeout: float = 10.0
    """Seconds to keep trying to open a lake another process holds before giving up."""

    reader_linger: float = 2.0
    """Seconds a retriever keeps the lake attached after its last search (pages stay cached)."""

    @property
    def lake_dir(self) -> Path:
        """The lake's folder."""
        return self.home / "lake"

    @property
    def db_path(self) -> Path:
        """The encrypted DuckDB file."""
        return self.lake_dir / "lake.duckdb"

    @property
    def key_path(self) -> Path:
        """The key file used when `TERRAQORE_LAKE_KEY` is not set."""
        return self.lake_dir / "lake.key"
