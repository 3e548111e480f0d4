LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def count_levels(lines: list[str]) -> dict[str, int]:
    """Count log lines per level."""
    counts: dict[str, int] = {}
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and fields[2] in LEVELS:
            counts[fields[2]] = counts.get(fields[2], 0) + 1
    return counts
