def time_ago(seconds: int) -> str:
    """Describe how long ago something happened, the way chat apps do."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        count = seconds // size
        if count >= 1:
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"
