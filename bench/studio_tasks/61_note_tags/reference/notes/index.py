"""Tag -> notes, over a folder."""

from pathlib import Path

from notes.tags import extract_tags


def build_index(folder) -> dict[str, list[str]]:
    """Each tag and the sorted relative paths of the .md notes carrying it."""
    base = Path(folder)
    index: dict[str, list[str]] = {}
    for path in sorted(base.rglob("*.md")):
        if path.is_file():
            for tag in extract_tags(path.read_text(encoding="utf-8")):
                index.setdefault(tag, []).append(path.relative_to(base).as_posix())
    return {tag: sorted(paths) for tag, paths in index.items()}
