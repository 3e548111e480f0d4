"""What the Lake tab shows that the graph API does not: the lake's sources and freshness.

Read-only: a lake that does not exist yet is reported empty, never created, and a lake
another connection is writing is reported busy rather than waited on for long.
"""

from __future__ import annotations

from typing import Any

from lake.config import LakeSettings
from lake.operations import status

BUSY_SECONDS = 2.0
"""How long to wait for a writer (an ingest run) to let go before answering busy."""


def lake_facts(settings: LakeSettings | None = None) -> dict[str, Any]:
    """Counts per layer, each source with its last run and error, and the newest item's age.

    Raises `lake.database.LakeBusy` while an ingest holds the lake, and `LakeError` for a
    lake that cannot be opened (a wrong key, say).
    """
    settings = settings or LakeSettings()
    if not settings.db_path.exists():
        return {
            "exists": False,
            "path": str(settings.db_path),
            "bronze_items": 0,
            "silver_chunks": 0,
            "latest_item": None,
            "stale_seconds": None,
            "sources": [],
            "errors": [],
        }
    busy = settings.model_copy(update={"busy_timeout": BUSY_SECONDS})
    facts = status(busy)
    facts.pop("bronze_states", None)
    facts.pop("gold_digests", None)
    return {"exists": True, **facts}
