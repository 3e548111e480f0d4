"""How much memory a sandboxed run holds across all its processes, read from the parent.

RLIMIT_AS bounds each process, not their sum, and a cgroup's `memory.max` needs root or a
delegated cgroup. So the parent, while it watches a run, adds up the proportional set size
(PSS: shared pages split between their sharers, so a fork is not counted twice) of every
process of the run: the process group it started (which no process can leave) and every
descendant (inside bwrap's own session and PID namespace). A process that is gone, or whose
memory we may not read, counts as nothing: the per-process limit still holds for it.
"""

from __future__ import annotations

import os
from collections import defaultdict


def _parent_and_group(pid: str) -> tuple[int, int] | None:
    """(parent pid, process group) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # The name, in parentheses, may hold spaces and parentheses: split after the last.
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[1]), int(fields[2])
    except (OSError, IndexError, ValueError):
        return None


def processes(leader: int) -> set[int]:
    """The run's processes: `leader`'s process group and every descendant of `leader`."""
    children: dict[int, list[int]] = defaultdict(list)
    found = {leader}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        known = _parent_and_group(name)
        if known is None:
            continue
        parent, group = known
        children[parent].append(int(name))
        if group == leader:
            found.add(int(name))
    pending = [leader]
    while pending:
        for child in children.pop(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def held(leader: int) -> int:
    """Bytes of memory the run's processes hold in all (the sum of their PSS)."""
    total = 0
    for pid in processes(leader):
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) << 10
                        break
        except (OSError, ValueError):
            continue
    return total
