"""Totals per category."""


def totals_by_category(rows, month=None) -> list[tuple[str, float]]:
    """(category, total) pairs, largest first, ties by name; month "YYYY-MM" filters."""
    totals: dict[str, float] = {}
    for row in rows:
        if month is None or row["date"].startswith(f"{month}-"):
            totals[row["category"]] = totals.get(row["category"], 0.0) + row["amount"]
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
