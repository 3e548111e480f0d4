def column_summary(rows: list[dict[str, str]], column: str) -> dict[str, float]:
    """Count, min, max and mean of one numeric column."""
    numbers = []
    for index, row in enumerate(rows, start=1):
        raw = row.get(column)
        if raw is None or not raw.strip():
            continue
        try:
            numbers.append(float(raw.strip().replace(",", "")))
        except ValueError:
            raise ValueError(f"row {index}: {raw!r} is not a number") from None
    if not numbers:
        return {"count": 0}
    return {
        "count": len(numbers),
        "min": min(numbers),
        "max": max(numbers),
        "mean": sum(numbers) / len(numbers),
    }
