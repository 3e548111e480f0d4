"""Bronze to silver: clean, check length and language, drop duplicates, chunk by tokens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
from langchain_text_splitters import RecursiveCharacterTextSplitter

from lake.config import LakeSettings
from lake.database import bulk_load
from lake.text import NearDuplicateIndex, content_hash, language, normalise, simhash, token_counter

CHUNK_COLUMNS = {
    "item_id": "BIGINT",
    "ordinal": "INTEGER",
    "text": "VARCHAR",
    "tokens": "INTEGER",
    "published": "TIMESTAMP",
    "language": "VARCHAR",
}
STATE_COLUMNS = {
    "id": "BIGINT",
    "state": "VARCHAR",
    "norm_hash": "VARCHAR",
    "simhash": "UBIGINT",
    "language": "VARCHAR",
}


@dataclass
class SilverReport:
    """What one pass over new bronze items did."""

    items: int = 0
    promoted: int = 0
    chunks: int = 0
    dropped: dict[str, int] = field(default_factory=dict)


def splitter(settings: LakeSettings) -> RecursiveCharacterTextSplitter:
    """A token-aware splitter (MiniLM tokens), paragraphs first, then sentences, then words."""
    return RecursiveCharacterTextSplitter(
        chunk_size=settings.chunk_tokens,
        chunk_overlap=settings.chunk_overlap,
        length_function=token_counter(),
        separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
    )


def promote(
    con: duckdb.DuckDBPyConnection,
    settings: LakeSettings,
    progress: Callable[[str, int, int], None] | None = None,
) -> SilverReport:
    """Process every `new` bronze item, in one transaction; `progress(stage, done, total)`."""
    report = SilverReport()
    allowed = {lang.strip() for lang in settings.languages.split(",") if lang.strip()}
    seen_hashes = {
        row[0]
        for row in con.execute(
            "SELECT norm_hash FROM bronze_items WHERE state = 'silver' AND norm_hash IS NOT NULL"
        ).fetchall()
    }
    index = NearDuplicateIndex(settings.near_duplicate_bits)
    for (h,) in con.execute("SELECT simhash FROM bronze_items WHERE state = 'silver'").fetchall():
        if h is not None:
            index.add(int(h))
    split = splitter(settings)
    count = token_counter()
    rows = con.execute(
        "SELECT id, raw, published FROM bronze_items WHERE state = 'new' ORDER BY id"
    ).fetchall()
    chunk_rows: list[tuple[object, ...]] = []
    state_rows: list[tuple[object, ...]] = []
    con.execute("BEGIN TRANSACTION")
    try:
        for item_id, raw, published in rows:
            report.items += 1
            if progress is not None and (report.items % 50 == 0 or report.items == len(rows)):
                progress("silver", report.items, len(rows))
            text = normalise(raw)
            lang = language(text)
            norm = content_hash(text)
            sh = simhash(text)
            if len(text) < settings.min_chars:
                state = "too_short"
            elif "*" not in allowed and lang not in allowed:
                state = "language"
            elif norm in seen_hashes:
                state = "duplicate"
            elif index.near(sh):
                state = "near_duplicate"
            else:
                state = "silver"
                seen_hashes.add(norm)
                index.add(sh)
                for ordinal, chunk in enumerate(split.split_text(text)):
                    chunk_rows.append((item_id, ordinal, chunk, count(chunk), published, lang))
                    report.chunks += 1
                report.promoted += 1
            if state != "silver":
                report.dropped[state] = report.dropped.get(state, 0) + 1
            state_rows.append((item_id, state, norm, sh, lang))
        bulk_load(con, "new_chunks", CHUNK_COLUMNS, chunk_rows)
        con.execute(
            "INSERT INTO silver_chunks (item_id, ordinal, text, tokens, published, language)"
            " SELECT * FROM new_chunks ON CONFLICT (item_id, ordinal) DO NOTHING"
        )
        bulk_load(con, "new_states", STATE_COLUMNS, state_rows)
        con.execute(
            "UPDATE bronze_items SET state = n.state, norm_hash = n.norm_hash, simhash = n.simhash,"
            " language = n.language FROM new_states n WHERE bronze_items.id = n.id"
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return report
