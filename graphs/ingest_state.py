"""State and context of the ingest graph: a source in, what the lake and the index took out."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphs.context import fill_from_env


@dataclass(kw_only=True)
class IngestInput:
    """What a caller passes: `run({"source": "./docs", "topic": "docs"})`."""

    source: str
    """A local file or folder, a feed or page URL, or `search:"a query"` (the last two online)."""

    topic: str | None = None
    """Topic to file the items under."""


@dataclass(kw_only=True)
class IngestState(IngestInput):
    """What the ingest steps write."""

    added: int = 0
    """New items in bronze."""

    already_present: int = 0
    """Items bronze had already (ingest is idempotent on the content hash)."""

    promoted: int = 0
    """Items promoted to silver."""

    chunks: int = 0
    """Silver chunks written."""

    dropped: dict[str, int] = field(default_factory=dict)
    """Items silver dropped, by reason (too short, language, duplicate, ...)."""

    indexed: int = 0
    """Chunks embedded into the index by this run."""

    error: str = ""
    """Why the source could not be ingested (nothing already stored is lost)."""


@dataclass(kw_only=True)
class IngestContext:
    """Per-run configuration of the ingest graph (the environment fills what is left unset)."""

    online: bool = False
    """Online mode: only then may a URL or a search be fetched."""

    index: bool = True
    """Embed the new chunks and update the index afterwards."""

    def __post_init__(self) -> None:
        fill_from_env(self)
