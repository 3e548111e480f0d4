"""A small indexed lake of three Wikipedia-like articles, for tests that ask questions over it."""

from __future__ import annotations

from pathlib import Path

import ollama

from lake.bronze import RawItem, Source, write_batch
from lake.config import LakeSettings
from lake.database import connect
from lake.silver import promote
from retrievers import RetrievalSettings, sync_index
from retrievers.embedder import ServerEmbedder
from tests.server_harness import EMBED

DOCS = {
    "Johann Sebastian Bach": "Johann Sebastian Bach was a German composer and musician of the "
    "late Baroque period. He was born in Eisenach in 1685 and worked as a church organist. "
    "He died in Leipzig in 1750, where he had been cantor of the Thomasschule for 27 years.",
    "Sea otter": "The sea otter is a marine mammal native to the coasts of the northern and "
    "eastern North Pacific Ocean. Sea otters use rocks as tools to break open shellfish, and "
    "they rest floating on their backs, often holding paws so they do not drift apart.",
    "Basalt": "Basalt is a dark, fine-grained volcanic rock formed from the rapid cooling of "
    "lava rich in magnesium and iron. More than ninety percent of all volcanic rock on Earth "
    "is basalt, and it makes up most of the ocean floor along the mid-ocean ridges.",
}
SOURCE = "test:qa"
"""The dataset source the articles are filed under."""


def build_small_lake(home: Path, server_url: str) -> None:
    """Write `DOCS` into a lake in `home`, promote them and index them on the server's embedder."""
    settings = LakeSettings(home=home)
    items = [
        RawItem(url=f"https://en.wikipedia.org/wiki/{t.replace(' ', '_')}", title=t, raw=text)
        for t, text in DOCS.items()
    ]
    con = connect(settings)
    try:
        write_batch(con, Source("dataset", SOURCE, "wikipedia"), items)
        promote(con, settings)
    finally:
        con.close()
    embedder = ServerEmbedder(ollama.Client(host=server_url), EMBED)
    sync_index(settings, RetrievalSettings(), embedder)
