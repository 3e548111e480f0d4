"""logstats FILE... [--level LEVEL]: counts per level, or the messages of one level."""

import argparse
import sys
from collections import Counter

from logstats.reader import read_records


def main(argv: list[str] | None = None) -> int:
    """Print the counts per level, or the messages of one level."""
    parser = argparse.ArgumentParser(prog="logstats")
    parser.add_argument("files", nargs="+")
    parser.add_argument("--level")
    args = parser.parse_args(argv)
    records, bad = read_records(args.files)

    def level(r: dict) -> str:
        return str(r.get("level", "UNKNOWN")).upper()

    if args.level:
        for r in records:
            if level(r) == args.level.upper():
                print(r.get("msg", ""))
    else:
        counts = Counter(level(r) for r in records)
        for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"{name} {n}")
    if bad:
        print(f"skipped {bad} bad lines", file=sys.stderr)
    return 0
