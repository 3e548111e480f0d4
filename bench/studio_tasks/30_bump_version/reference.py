import re

_VERSION = re.compile(r"(v?)(\d+)\.(\d+)\.(\d+)([-+].*)?")


def bump(version: str, part: str) -> str:
    """Bump a semantic version "MAJOR.MINOR.PATCH"."""
    match = _VERSION.fullmatch(version)
    if not match:
        raise ValueError(f"not a version: {version!r}")
    prefix = match.group(1)
    major, minor, patch = (int(match.group(i)) for i in (2, 3, 4))
    if part == "major":
        major, minor, patch = major + 1, 0, 0
    elif part == "minor":
        minor, patch = minor + 1, 0
    elif part == "patch":
        patch += 1
    else:
        raise ValueError(f"unknown part: {part!r}")
    return f"{prefix}{major}.{minor}.{patch}"
