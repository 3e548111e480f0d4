"""The first code that runs inside the sandbox: limits, an optional audit hook, then pytest.

This file is never imported by the app. `nodes.sandbox` passes its source to the sandbox's
interpreter (`python -s -S -P -c SOURCE CONFIG`), so it may use only the standard library and
the pytest copy the config names. It lowers the resource limits (CPU, address space, file
size, processes, open files, no core dumps), and where no namespace isolates the run it
installs an audit hook that refuses writes outside the work folder, sockets, and new
processes. Then it runs pytest in this process, with a plugin that writes each test's
outcome to a JSON report.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from typing import Any

MAX_DETAIL = 2000
"""Characters kept of one failure's traceback."""

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_PATH_EVENTS = {
    "os.remove",
    "os.rmdir",
    "os.mkdir",
    "os.chmod",
    "os.chown",
    "os.truncate",
    "os.utime",
    "os.rename",
    "os.symlink",
    "os.link",
    "shutil.rmtree",
}
_PROCESS_EVENTS = {
    "os.fork",
    "os.forkpty",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.system",
    "os.startfile",
    "subprocess.Popen",
}
# Modules that would let code step around the hook (raw C calls, process spawning).
_BLOCKED_IMPORTS = {"ctypes", "_ctypes", "cffi", "_posixsubprocess"}


def set_limits(limits: dict[str, int]) -> None:
    """Lower this process's resource limits; children inherit them."""
    pairs = {
        resource.RLIMIT_CPU: (limits["cpu_seconds"], limits["cpu_seconds"] + 1),
        resource.RLIMIT_AS: (limits["memory_bytes"],) * 2,
        resource.RLIMIT_FSIZE: (limits["file_bytes"],) * 2,
        resource.RLIMIT_NPROC: (limits["processes"],) * 2,
        resource.RLIMIT_NOFILE: (limits["open_files"],) * 2,
        resource.RLIMIT_CORE: (0, 0),
    }
    for kind, (soft, hard) in pairs.items():
        resource.setrlimit(kind, (soft, hard))


def install_hook(roots: list[str], files: bool, network: bool, processes: bool) -> None:
    """Refuse, by audit hook, what no namespace stops: writes outside `roots`, sockets, forks."""
    allowed = [os.path.realpath(r) for r in roots]

    def inside(path: Any) -> bool:
        if isinstance(path, int):
            return True  # an already open descriptor: its opening was checked
        real = os.path.realpath(os.fsdecode(path))
        return any(real == root or real.startswith(root + os.sep) for root in allowed)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if files and event == "open":
            path, mode, flags = args
            writing = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & _WRITE_FLAGS)
            if writing and not inside(path):
                raise PermissionError(f"sandbox: writing {path!r} is not allowed")
        elif files and event in _PATH_EVENTS:
            for path in args[:2]:
                if isinstance(path, str | bytes | os.PathLike) and not inside(path):
                    raise PermissionError(f"sandbox: {event} on {path!r} is not allowed")
        elif network and event.startswith("socket.") and event != "socket.gethostname":
            raise PermissionError(f"sandbox: {event} is not allowed (no network)")
        elif processes and event in _PROCESS_EVENTS:
            raise PermissionError(f"sandbox: {event} is not allowed (no new processes)")
        elif event == "import" and args[0] in _BLOCKED_IMPORTS:
            raise ImportError(f"sandbox: importing {args[0]} is not allowed")

    sys.addaudithook(hook)


class Recorder:
    """A pytest plugin that keeps each test's outcome and writes them as JSON at the end."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.tests: list[dict[str, str]] = []

    def pytest_runtest_logreport(self, report: Any) -> None:
        """Keep the call phase's outcome, and any setup or teardown failure."""
        if report.when == "call" or report.outcome == "failed":
            detail = str(report.longrepr or "")[-MAX_DETAIL:]
            self.tests.append({"id": report.nodeid, "outcome": report.outcome, "detail": detail})

    def pytest_collectreport(self, report: Any) -> None:
        """A file that does not import (syntax error, missing name) counts as a failed test."""
        if report.failed:
            detail = str(report.longrepr or "")[-MAX_DETAIL:]
            self.tests.append({"id": report.nodeid, "outcome": "error", "detail": detail})

    def pytest_sessionfinish(self) -> None:
        """Write the report (before the hook could refuse it, the path is inside the work dir)."""
        with open(self.path, "w", encoding="utf-8") as f:
            json.dump(self.tests, f)


def main() -> int:
    """Read the config from argv, lower limits, guard, and run pytest; return its exit code."""
    config = json.loads(sys.argv[1])
    set_limits(config["limits"])
    sys.dont_write_bytecode = True
    os.chdir(config["work"])
    sys.path.insert(0, config["runtime"])
    import pytest

    guard = config["hook"]
    if any(guard.values()):
        install_hook([config["work"], os.devnull], **guard)
    return int(pytest.main(config["args"], plugins=[Recorder(config["report"])]))


if __name__ == "__main__":
    sys.exit(main())
