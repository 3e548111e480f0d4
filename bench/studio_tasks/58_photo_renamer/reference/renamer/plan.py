"""Which file gets which new name."""

import posixpath


def plan_renames(names, prefix: str) -> list[tuple[str, str]]:
    """(old, new) pairs, in name order ignoring case; names already right are left out."""
    ordered = sorted(names, key=lambda n: (n.lower(), n))
    width = max(3, len(str(len(ordered))))
    pairs = []
    for number, name in enumerate(ordered, start=1):
        ext = posixpath.splitext(name)[1].lower()
        new = f"{prefix}_{number:0{width}d}{ext}"
        if new != name:
            pairs.append((name, new))
    return pairs
