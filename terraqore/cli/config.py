"""`terraqore config`: every setting, from the settings classes themselves.

`docs/configuration.md` is this module's output (`terraqore config docs`); a test regenerates
it, so the page cannot drift from the code.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from lake.config import LakeSettings
from retrievers.config import RetrievalSettings
from server.config import HomeSettings, ServerSettings
from terraqore.settings import Settings

config_app = typer.Typer(help="Settings: where they come from, what they mean.")

SECTIONS: list[tuple[str, type[BaseSettings], str]] = [
    ("Everywhere", HomeSettings, "Shared by every part."),
    ("The built-in server", ServerSettings, "`terraqore serve`, `python -m server`."),
    ("The app", Settings, "The CLI, the model factory, the graphs: which server, which models."),
    ("The lake", LakeSettings, "Ingestion, the guarded fetcher, silver."),
    ("Retrieval", RetrievalSettings, "The embeddings, the FAISS and BM25 indexes, fusion."),
]

HEADER = """# Configuration

Every setting is an environment variable, `TERRAQORE_` followed by the field's name in capitals.
What a caller passes explicitly (a function argument, a CLI option) wins over the environment.

This page is generated from the settings classes (`terraqore config docs > docs/configuration.md`);
a test fails when it is out of date.
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


@config_app.command("docs")
def docs() -> None:
    """Print the settings reference as Markdown (the source of docs/configuration.md)."""
    sys.stdout.write(settings_reference())
