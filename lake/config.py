"""Lake settings (env prefix `TERRAQORE_`); what the caller passes wins over the environment."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path(os.environ.get("TERRAQORE_HOME") or "~/.terraqore").expanduser()


class LakeSettings(BaseSettings):
    """Where the lake lives, how it is keyed, and how silver is made."""

    model_config = SettingsConfigDict(env_prefix="TERRAQORE_", extra="ignore")

    home: Path = Field(default_factory=_default_home)
    """Data directory; the lake is `home/lake/lake.duckdb`."""

    lake_key: SecretStr | None = None
    """Encryption key (`TERRAQORE_LAKE_KEY`); without it a key file is created (mode 0600)."""

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
