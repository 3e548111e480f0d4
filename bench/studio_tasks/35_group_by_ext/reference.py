import posixpath


def group_by_extension(paths: list[str]) -> dict[str, list[str]]:
    """Group file paths by extension."""
    groups: dict[str, list[str]] = {}
    for path in paths:
        ext = posixpath.splitext(posixpath.basename(path))[1]
        groups.setdefault(ext[1:].lower(), []).append(path)
    return groups
