"""`terraqore config`: every setting, from the settings classes themselves.

`docs/configuration.md` is this module's output (`terraqore config docs`); a test regenerates
it, so the page cannot drift from the code.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings
from rich.table import Table

from lake.config import LakeSettings
from retrievers.config import RetrievalSettings
from server.config import ServerSettings
from server.home import HomeSettings, config_path, read_config_file
from terraqore.app.cli.console import out
from terraqore.client.router import RouterSettings
from terraqore.client.settings import Settings
from terraqore.codecheck.sandbox import which

config_app = typer.Typer(help="Settings: where they come from, what they mean.")

SECTIONS: list[tuple[str, type[BaseSettings], str]] = [
    ("Everywhere", HomeSettings, "Shared by every part."),
    ("The built-in server", ServerSettings, "`terraqore serve`, `python -m server`."),
    ("The app", Settings, "The CLI, the model factory, the graphs: which server, which models."),
    ("The lake", LakeSettings, "Ingestion, the guarded fetcher, silver."),
    ("Retrieval", RetrievalSettings, "The embeddings, the FAISS and BM25 indexes, fusion."),
    ("The task router", RouterSettings, "Chains of endpoints and models per task type; prices."),
]

HEADER = """# Configuration

Every setting is an environment variable, `TERRAQORE_` followed by the field's name in capitals,
or a key of the config file (`config.toml` in the home, or `TERRAQORE_CONFIG`): the field's name.
What a caller passes explicitly (a function argument, a CLI option) wins over the environment,
and the environment over the file.

This page is generated from the settings classes (`terraqore config docs > docs/configuration.md`);
a test fails when it is out of date. The graphs' per-run contexts are read the same way
(`TERRAQORE_K`, `TERRAQORE_MAX_FIX_ROUNDS`, `TERRAQORE_CODER_MODEL`, ...); their fields are
described in `graphs/context.py`, `graphs/qa_context.py` and `graphs/studio_context.py`, and in
[qa.md](qa.md) and [studio.md](studio.md).
"""


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        return "computed"
    if info.default is PydanticUndefined or info.default is None:
        return "unset"
    value: Any = info.default
    if isinstance(value, bool):
        return "on" if value else "off"
    if value == "":
        return "empty"
    return f"`{value}`"


def _rows(cls: type[BaseSettings], seen: set[str]) -> list[str]:
    rows = []
    for name, info in cls.model_fields.items():
        if name in seen:
            continue
        seen.add(name)
        meaning = " ".join((info.description or "").split()).replace("|", "\\|")
        rows.append(f"| `TERRAQORE_{name.upper()}` | {_default(info)} | {meaning} |")
    return rows


def settings_reference() -> str:
    """Markdown tables of every setting, grouped by the class that declares it."""
    parts = [HEADER]
    seen: set[str] = set()
    for title, cls, blurb in SECTIONS:
        rows = _rows(cls, seen)
        if not rows:
            continue
        parts.append(f"## {title}\n\n{blurb} Declared in `{cls.__module__}.{cls.__name__}`.\n")
        parts.append("| variable | default | meaning |\n|---|---|---|\n" + "\n".join(rows) + "\n")
    return "\n".join(parts)


SECRET_WORDS = ("key", "password", "token", "secret")


def _is_secret(name: str, value: Any) -> bool:
    return isinstance(value, SecretStr) or any(w in name for w in SECRET_WORDS)


def effective_settings() -> list[tuple[str, str, str]]:
    """(variable, value, origin) of every setting: `env`, `file` (config.toml) or `default`.

    Secrets show only whether they are set, never their value.
    """
    path = config_path(HomeSettings().home)
    in_file = set(read_config_file(path))
    env = {k.upper() for k in os.environ}
    rows = []
    seen: set[str] = set()
    for _, cls, _ in SECTIONS:
        values = cls()
        for name in cls.model_fields:
            if name in seen:
                continue
            seen.add(name)
            var = f"TERRAQORE_{name.upper()}"
            origin = "env" if var in env else "file" if name in in_file else "default"
            value = getattr(values, name)
            if _is_secret(name, value):
                shown = "(set)" if value not in (None, "") else "(unset)"
            else:
                shown = str(value)
            rows.append((var, shown, origin))
    return rows


@config_app.command("show")
def show() -> None:
    """The effective settings and where each value came from (env, file or default)."""
    path = config_path(HomeSettings().home)
    out.print(f"config file: {path}{'' if path.is_file() else ' (none yet)'}")
    table = Table("VARIABLE", "VALUE", "FROM", box=None, pad_edge=False)
    for var, value, origin in effective_settings():
        table.add_row(var, value, origin)
    out.print(table)
    out.print(sandbox_line(), highlight=False)


def sandbox_line() -> str:
    """Which sandbox this machine gives generated code (`TERRAQORE_SANDBOX` forces one)."""
    kind, account = which()
    return f"sandbox: {account}" if kind else f"sandbox: NONE. {account}"


@config_app.command("path")
def path_() -> None:
    """Print where the config file is (or would be)."""
    out.print(str(config_path(HomeSettings().home)))


@config_app.command("docs")
def docs() -> None:
    """Print the settings reference as Markdown (the source of docs/configuration.md)."""
    sys.stdout.write(settings_reference())
