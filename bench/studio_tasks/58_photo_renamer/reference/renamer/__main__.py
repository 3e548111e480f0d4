"""python -m renamer FOLDER --prefix PREFIX [--dry-run]"""

import argparse
import sys
from pathlib import Path

from renamer.plan import plan_renames


def main(argv: list[str]) -> int:
    """Rename (or, dry, only show) the folder's files; 1 when a new name is taken."""
    parser = argparse.ArgumentParser(prog="renamer")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    names = [p.name for p in args.folder.iterdir() if p.is_file()]
    pairs = plan_renames(names, args.prefix)
    moving = {old for old, _ in pairs}
    taken = [new for _, new in pairs if (args.folder / new).exists() and new not in moving]
    if taken:
        print(f"error: already taken: {', '.join(taken)}", file=sys.stderr)
        return 1
    for old, new in pairs:
        print(f"{old} -> {new}")
    if not args.dry_run:
        temporary = []
        for i, (old, new) in enumerate(pairs):
            tmp = args.folder / f".renamer-{i}.tmp"
            (args.folder / old).rename(tmp)
            temporary.append((tmp, new))
        for tmp, new in temporary:
            tmp.rename(args.folder / new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
