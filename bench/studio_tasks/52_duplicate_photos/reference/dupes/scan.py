"""Group the files under a folder by content: sizes first, then SHA-256."""

import hashlib
from pathlib import Path


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def find_duplicates(root) -> list[list[str]]:
    """Every group of two or more non-empty files under root with identical bytes."""
    base = Path(root)
    by_size: dict[int, list[Path]] = {}
    for path in base.rglob("*"):
        if path.is_file() and not path.is_symlink():
            size = path.stat().st_size
            if size:
                by_size.setdefault(size, []).append(path)
    groups = []
    for paths in by_size.values():
        if len(paths) < 2:
            continue
        by_hash: dict[str, list[str]] = {}
        for path in paths:
            by_hash.setdefault(_digest(path), []).append(path.relative_to(base).as_posix())
        groups += [sorted(g) for g in by_hash.values() if len(g) > 1]
    return sorted(groups)
