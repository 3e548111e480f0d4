"""python -m dupes FOLDER: print the groups of duplicate files under FOLDER."""

import sys
from pathlib import Path

from dupes.scan import find_duplicates


def main(argv: list[str]) -> int:
    """Print the duplicate groups; 2 when the folder is missing."""
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print(f"error: not a folder: {' '.join(argv)}", file=sys.stderr)
        return 2
    groups = find_duplicates(argv[0])
    if not groups:
        print("No duplicates found.")
    print("\n\n".join("\n".join(g) for g in groups))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
