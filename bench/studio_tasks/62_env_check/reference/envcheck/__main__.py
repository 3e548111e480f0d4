"""python -m envcheck [--example PATH] [--env PATH]"""

import argparse
import sys
from pathlib import Path

from envcheck.dotenv import read_keys


def main(argv: list[str]) -> int:
    """1 when a key of the example is missing, 2 when a file is missing."""
    parser = argparse.ArgumentParser(prog="envcheck")
    parser.add_argument("--example", default=".env.example")
    parser.add_argument("--env", default=".env")
    args = parser.parse_args(argv)
    for path in (args.example, args.env):
        if not Path(path).is_file():
            print(f"error: {path} not found", file=sys.stderr)
            return 2
    example, env = set(read_keys(args.example)), set(read_keys(args.env))
    for key in sorted(example - env):
        print(f"missing: {key}")
    for key in sorted(env - example):
        print(f"extra: {key}")
    return 1 if example - env else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
