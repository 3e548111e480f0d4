"""todo [--file PATH] add WORDS... | list | done N"""

import argparse
import sys

from todo.store import load, save


def main(argv: list[str] | None = None) -> int:
    """Run one command; 1 when `done` names no item."""
    parser = argparse.ArgumentParser(prog="todo")
    parser.add_argument("--file", default="todo.json")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("add").add_argument("words", nargs="+")
    commands.add_parser("list")
    commands.add_parser("done").add_argument("n", type=int)
    args = parser.parse_args(argv)
    items = load(args.file)
    if args.command == "add":
        items.append({"text": " ".join(args.words), "done": False})
        save(args.file, items)
    elif args.command == "list":
        if not items:
            print("Nothing to do.")
        for i, item in enumerate(items, start=1):
            print(f"{i}. [{'x' if item['done'] else ' '}] {item['text']}")
    else:
        if not 1 <= args.n <= len(items):
            print(f"error: no item {args.n}", file=sys.stderr)
            return 1
        items[args.n - 1]["done"] = True
        save(args.file, items)
    return 0
