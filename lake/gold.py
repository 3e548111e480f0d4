"""Gold: digests per topic and day, written by the local model, citing their item ids.

The model is reached through an Ollama-compatible client the caller passes in (the
built-in server or a real Ollama). The output schema makes the cited ids an `enum` of
the real item ids, so a digest can only cite items it was given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import ollama

from lake.config import LakeSettings
from lake.database import LakeError, connect

SYSTEM = """<ROLE>
You write short news digests from the items you are given.
</ROLE>

<FORMAT>
A summary of two to five sentences covering the most important items, then the ids of the items
the summary relies on. Use only the items below.
</FORMAT>"""


SUMMARY_CHARS = 700
"""Longest summary the output schema allows."""


def _token_budget(n_ids: int) -> int:
    """Tokens that fit any schema-valid answer written one character per token.

    The schema bounds every part of the answer (the summary's length, the number of ids,
    the whitespace between tokens), so with this budget the model reaches the end of the
    JSON instead of being cut off inside a string. Only a summary full of unicode escapes
    could outrun it, and that ends in a clear `LakeError`.
    """
    return SUMMARY_CHARS + 24 * (n_ids + 1) + 96


def _parse(content: str | None, done_reason: str | None, topic: str | None, period: date) -> Any:
    try:
        return json.loads(content or "")
    except json.JSONDecodeError as exc:
        raise LakeError(
            f"the model's digest for {topic or 'no topic'} on {period} is not valid JSON"
            f" (stopped because: {done_reason or 'unknown'}); nothing was written"
        ) from exc


@dataclass
class Digest:
    """One digest."""

    topic: str | None
    period: date
    summary: str
    item_ids: list[int]
    model: str


def _groups(
    con: Any, topic: str | None, day: date | None
) -> list[tuple[str | None, date, list[int]]]:
    sql = (
        "SELECT s.topic, CAST(coalesce(b.published, b.fetched_at) AS DATE) AS day,"
        " list(b.id ORDER BY b.id) FROM bronze_items b JOIN sources s ON s.id = b.source_id"
        " WHERE b.state = 'silver'"
    )
    params: list[Any] = []
    if topic is not None:
        sql += " AND s.topic = ?"
        params.append(topic)
    if day is not None:
        sql += " AND CAST(coalesce(b.published, b.fetched_at) AS DATE) = ?"
        params.append(day)
    rows = con.execute(sql + " GROUP BY ALL ORDER BY day, s.topic", params).fetchall()
    return [(t, d, list(ids)) for t, d, ids in rows]


def write_digests(
    settings: LakeSettings,
    client: ollama.Client,
    model: str,
    topic: str | None = None,
    day: date | None = None,
    max_items: int = 8,
) -> list[Digest]:
    """Write (or rewrite) the digest of every topic and day with silver items."""
    con = connect(settings)
    out = []
    try:
        for group_topic, period, ids in _groups(con, topic, day):
            ids = ids[:max_items]
            lines = []
            for item_id in ids:
                title, text = con.execute(
                    "SELECT b.title, c.text FROM bronze_items b"
                    " JOIN silver_chunks c ON c.item_id = b.id"
                    " WHERE b.id = ? ORDER BY c.ordinal LIMIT 1",
                    [item_id],
                ).fetchone() or ("", "")
                lines.append(f"[{item_id}] {title}: {text[:600]}")
            schema = {
                "type": "object",
                "properties": {
                    "summary": {"type": "string", "minLength": 1, "maxLength": SUMMARY_CHARS},
                    "item_ids": {
                        "type": "array",
                        "items": {"type": "integer", "enum": ids},
                        "minItems": 1,
                        "maxItems": len(ids),
                    },
                },
                "required": ["summary", "item_ids"],
            }
            response = client.chat(
                model=model,
                format=schema,
                options={"temperature": 0.2, "num_predict": _token_budget(len(ids))},
                messages=[
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": "<ITEMS>\n" + "\n".join(lines) + "\n</ITEMS>"},
                ],
            )
            data = _parse(response.message.content, response.done_reason, group_topic, period)
            cited = sorted({int(i) for i in data.get("item_ids", []) if int(i) in ids})
            digest = Digest(group_topic, period, str(data.get("summary", "")).strip(), cited, model)
            con.execute("BEGIN TRANSACTION")
            con.execute(
                "DELETE FROM gold_digests WHERE topic IS NOT DISTINCT FROM ? AND period = ?",
                [group_topic, period],
            )
            con.execute(
                "INSERT INTO gold_digests (topic, period, summary, item_ids, model)"
                " VALUES (?, ?, ?, ?, ?)",
                [group_topic, period, digest.summary, cited, model],
            )
            con.execute(
                "INSERT INTO audit (actor, action, detail) VALUES (?, 'digest', ?)",
                [model, f"{group_topic} {period}: items {cited}"],
            )
            con.execute("COMMIT")
            out.append(digest)
    finally:
        con.close()
    return out
