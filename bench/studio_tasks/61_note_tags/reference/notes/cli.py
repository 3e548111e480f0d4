"""notes FOLDER [--tag TAG]"""

import argparse

from notes.index import build_index


def main(argv: list[str] | None = None) -> int:
    """List the tags, or the notes of one tag (1 when there are none)."""
    parser = argparse.ArgumentParser(prog="notes")
    parser.add_argument("folder")
    parser.add_argument("--tag")
    args = parser.parse_args(argv)
    index = build_index(args.folder)
    if args.tag is None:
        for tag in sorted(index):
            print(f"{tag} ({len(index[tag])})")
        return 0
    paths = index.get(args.tag.lstrip("#").lower(), [])
    for path in paths:
        print(path)
    return 0 if paths else 1
