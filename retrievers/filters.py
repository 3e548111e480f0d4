"""Metadata filters (source kind, topic, date range) as SQL over the lake's tables."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

# The date of a chunk: the item's own publication date, else when it was fetched.
CHUNK_DATE = "coalesce(c.published, b.published, b.fetched_at)"


class RetrievalFilters(BaseModel):
    """Which chunks may be returned; every given field must match (AND)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: tuple[str, ...] | None = None
    """Source kinds: `file`, `feed`, `page`, `search`, `dataset`."""

    topic: tuple[str, ...] | None = None
    """Topics: the source's topic or the item's own (`metadata.topic`)."""

    since: datetime | None = None
    """Published (or fetched) at or after this time."""

    until: datetime | None = None
    """Published (or fetched) before this time."""

    @field_validator("kind", "topic", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("since", "until", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day)
        return value

    @model_validator(mode="after")
    def _range(self) -> RetrievalFilters:
        if self.since and self.until and self.since >= self.until:
            raise ValueError("`since` must be before `until`")
        return self

    @property
    def empty(self) -> bool:
        """True when nothing is filtered."""
        return not (self.kind or self.topic or self.since or self.until)

    def where(self) -> tuple[str, list[Any]]:
        """A SQL condition over `silver_chunks c`, `bronze_items b`, `sources s`, and its params."""
        parts: list[str] = ["TRUE"]
        params: list[Any] = []
        if self.kind:
            parts.append("s.kind IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(self.kind))
        if self.topic:
            parts.append(
                "(s.topic IN (SELECT unnest(?::VARCHAR[]))"
                " OR json_extract_string(b.metadata, '$.topic') IN (SELECT unnest(?::VARCHAR[])))"
            )
            params += [list(self.topic), list(self.topic)]
        if self.since:
            parts.append(f"{CHUNK_DATE} >= ?")
            params.append(self.since)
        if self.until:
            parts.append(f"{CHUNK_DATE} < ?")
            params.append(self.until)
        return " AND ".join(parts), params


def as_filters(value: RetrievalFilters | dict[str, Any] | None) -> RetrievalFilters:
    """Filters from a dict (`{"kind": "feed", "since": "2026-01-01"}`) or as given."""
    if isinstance(value, RetrievalFilters):
        return value
    return RetrievalFilters.model_validate(value or {})
