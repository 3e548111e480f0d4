"""The home and the config file: the core every settings class shares (a leaf package).

`TERRAQORE_HOME` (default `~/.terraqore`) holds the models, the lake, the index and the logs,
all private to their owner, and the config file `config.toml`. What the caller passes wins
over the environment, and the environment over the file.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def private_dir(path: Path) -> Path:
    """Create a folder only its owner may enter (0700), or make an existing one so.

    Every folder it has to create on the way is made 0700 too (`mkdir -p` would leave them to
    the umask): whichever part of the app first touches a fresh home, the home is private.
    Folders that already existed above `path` are left as they are. Everything under the home
    is kept this way (models, logs, the lake, the index, threads).
    """
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it first
            folder.mkdir(mode=0o700)
        os.chmod(folder, 0o700)
    os.chmod(path, 0o700)
    return path


def private_file(path: Path, create: bool = False) -> Path:
    """Make a file readable by its owner only (0600); a missing one is left alone.

    With `create`, a missing file is created empty and 0600, in a private folder, before
    anyone writes to it: SQLite, for one, creates its database with the umask's mode, and
    its journals take the database's.
    """
    if create:
        private_dir(path.parent)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, 0o600)
    return path


def default_home() -> Path:
    """`TERRAQORE_HOME`, or `~/.terraqore`."""
    return Path(os.environ.get("TERRAQORE_HOME") or "~/.terraqore").expanduser()


def config_path(home: Path | None = None) -> Path:
    """The config file: `TERRAQORE_CONFIG`, else `config.toml` in the home."""
    explicit = os.environ.get("TERRAQORE_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return (home or default_home()) / "config.toml"


class ConfigFileError(ValueError):
    """The config file cannot be read; the message names the file and the problem."""


def read_config_file(path: Path) -> dict[str, Any]:
    """The config file's contents: none when it does not exist, one clear error when malformed."""
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"config file {path} is not valid TOML: {exc}") from None


class ConfigFile(TomlConfigSettingsSource):
    """The config file as a settings source; a malformed file is one clear error."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        return read_config_file(Path(file_path))


class HomeSettings(BaseSettings):
    """What every settings class of the project shares: the prefix, the home, online mode.

    Each setting is declared once; the other settings classes extend this one.
    """

    # Attribute docstrings become field descriptions: `terraqore config` and docs/configuration.md
    # are generated from them.
    model_config = SettingsConfigDict(
        env_prefix="TERRAQORE_", extra="ignore", use_attribute_docstrings=True
    )

    home: Path = Field(default_factory=default_home)
    """Data directory (`TERRAQORE_HOME`, default `~/.terraqore`): models, lake, index, logs, and
    the config file `config.toml` (or `TERRAQORE_CONFIG`)."""

    online: bool = False
    """Online mode (`TERRAQORE_ONLINE`): off by default, and then nothing leaves loopback."""

    def private(self, *parts: str) -> Path:
        """`home/parts…`, created private (0700), and the home itself made private."""
        path = private_dir(self.home)
        for part in parts:
            path = private_dir(path / part)
        return path

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Precedence: what the caller passes, then the environment, then the config file."""
        home = getattr(init_settings, "init_kwargs", {}).get("home")
        path = config_path(Path(home).expanduser() if home else None)
        return init_settings, env_settings, ConfigFile(settings_cls, path)
