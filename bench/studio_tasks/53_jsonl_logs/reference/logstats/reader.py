"""Read JSON-lines log files."""

import json


def read_records(paths) -> tuple[list[dict], int]:
    """The JSON objects of the files, in order, and how many lines were not one."""
    records, bad = [], 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError:
                    value = None
                if isinstance(value, dict):
                    records.append(value)
                else:
                    bad += 1
    return records, bad
