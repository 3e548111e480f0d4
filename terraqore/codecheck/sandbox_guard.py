"""The first code that runs inside the sandbox: limits, Landlock, seccomp, then pytest.

This file is never imported by the app. `codecheck.sandbox` passes its source to the sandbox's
interpreter (`python -s -S -P -c SOURCE CONFIG`), so it may use only the standard library and
the runtime folder the config names (pytest, landlockpy, seccompy). In order it:

- lowers the resource limits (CPU, address space, file size, processes, open files, no
  core dumps);
- applies a Landlock ruleset (when the config asks): the listed system folders readable,
  the work folder the only writable place, nothing else visible; TCP bind and connect
  refused; signals and abstract sockets scoped to the run's own processes;
- loads a seccomp filter: no sockets (socketpair stays, asyncio needs it, but it reaches no
  address and gets no larger buffers), no inotify or fanotify, no ptrace, no
  io_uring, no `setsid`/`setpgid` (so every process the run starts stays in the process
  group the parent kills at the end), no SysV IPC or POSIX queues, no `memfd_create`, no
  new namespaces, no x32 syscalls, and, where no read-only mount protects the rest of the
  file system (every kind but bwrap), no changes to files' modes, owners, times or
  extended attributes;
- where nothing else isolates the run (the `audit-hook` kind, an explicit opt-in), installs
  an audit hook against writes outside the folder, sockets and new processes;
- runs pytest in this process, with a plugin that writes each test's outcome to a report,
  and which lines of the files to cover the tests ran.

A step the config requires that cannot be applied stops the run (exit code 97) before any
generated code is imported.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import sys
import threading
from typing import Any

MAX_DETAIL = 2000
"""Characters kept of one failure's traceback."""
SETUP_FAILED = 97
"""Exit code when a required isolation step could not be applied."""

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
# Refused with EPERM by the seccomp filter. `setsid`/`setpgid` keep every process in the
# group the parent kills; `socket` goes whole (socketpair is a syscall of its own); io_uring
# could open sockets and files around the filter.
_DENIED_SYSCALLS = (
    "socket",
    "setsid",
    "setpgid",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "mount",
    "umount2",
    "pivot_root",
    "kexec_load",
    "init_module",
    "finit_module",
    # No namespaces of the run's own: in a new user namespace it would hold every
    # capability, and the kernel's namespace code is a common way in.
    "unshare",
    "setns",
    # SysV IPC and POSIX message queues are the host's unless an IPC namespace hides them:
    # they would reach other processes' segments and outlive the run.
    "shmget",
    "shmat",
    "shmdt",
    "shmctl",
    "semget",
    "semop",
    "semctl",
    "semtimedop",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
    # Memory files have no path, so the disk cap could not see them.
    "memfd_create",
    "memfd_secret",
    # `socket` is refused, so the only sockets are socketpairs, connected at birth: a
    # `connect` (or a `sendmsg`/`sendmmsg`, whose address seccomp cannot read) could only
    # reach a path-named socket of the host (`/dev/log`), which Landlock does not govern.
    # `sendto` goes too when it names an address (`send` is `sendto` with none).
    "connect",
    "sendmsg",
    "sendmmsg",
    # Watching folders outside the allow-list would tell what the user does meanwhile.
    "inotify_init",
    "inotify_init1",
    "fanotify_init",
)
_SOL_SOCKET = 1
_BUFFER_OPTIONS = (7, 8, 32, 33)
"""SO_SNDBUF, SO_RCVBUF, SO_SNDBUFFORCE, SO_RCVBUFFORCE: larger socket buffers are kernel
memory no process's PSS counts, so the memory cap could not see them."""
# Refused where no mount namespace makes the rest of the file system read-only (every
# kind but bwrap): Landlock governs reading and writing files, not their mode, owner,
# times or extended attributes, so these would reach any file the user owns. They are
# refused inside the work folder too (seccomp cannot see paths): `shutil.copy` and
# `copy2`, which copy modes and times, fail there.
_METADATA_SYSCALLS = (
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "utime",
    "utimes",
    "futimesat",
    "utimensat",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "setxattrat",
    "removexattrat",
)
_NAMESPACE_FLAGS = (0x20000, 0x2000000, 0x4000000, 0x8000000, 0x10000000, 0x20000000, 0x40000000)
"""CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID and NEWNET: refused in `clone`."""
X32_SYSCALL_BIT = 0x40000000
"""x86_64's x32 ABI numbers its syscalls `nr | X32_SYSCALL_BIT`, under the same arch."""


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


def apply_landlock(read: list[str], write: list[str], devices: list[str]) -> int:
    """Restrict this process and its children to `read` (read, execute) and `write` (all).

    Returns the kernel's Landlock ABI version. Raises OSError (or landlockpy's error) when
    Landlock is missing or a rule cannot be added.
    """
    import landlockpy
    from landlockpy import AccessFS, AccessNet, Ruleset, Scope

    abi = landlockpy.abi_version()
    if abi < 1:
        raise OSError(errno.ENOSYS, "Landlock is not available in this kernel")
    readable = AccessFS.READ_FILE | AccessFS.READ_DIR | AccessFS.EXECUTE
    device = AccessFS.READ_FILE | AccessFS.WRITE_FILE
    with Ruleset(
        handled_net=AccessNet.BIND_TCP | AccessNet.CONNECT_TCP,
        scoped=Scope.ABSTRACT_UNIX_SOCKET | Scope.SIGNAL,
    ) as rules:
        for path in read:
            if os.path.exists(path):
                # A rule on a file takes file rights only (READ_DIR there is EINVAL).
                rights = readable if os.path.isdir(path) else readable & ~AccessFS.READ_DIR
                rules.allow_path(path, rights)
        for path in devices:
            if os.path.exists(path):
                rules.allow_path(path, device)
        for path in write:
            rules.allow_path(path, rules.handled_fs)
        rules.restrict()
    return int(abi)


def apply_seccomp(metadata: bool) -> None:
    """Refuse `_DENIED_SYSCALLS` (and `_METADATA_SYSCALLS` with `metadata`) with EPERM.

    For this process and every child. `clone` is refused when it asks for a namespace, and
    `clone3`, whose flags seccomp cannot read, says ENOSYS, so the C library falls back to
    `clone`. On x86_64 a second filter refuses every x32 syscall number.
    """
    import seccompy

    rules = seccompy.Filter(default=seccompy.Action.ALLOW)
    for name in (*_DENIED_SYSCALLS, *(_METADATA_SYSCALLS if metadata else ())):
        try:
            rules.errno(name, errno.EPERM)
        except (KeyError, ValueError):
            continue  # not a syscall on this architecture
    for flag in _NAMESPACE_FLAGS:
        rules.errno("clone", errno.EPERM, args=[(0, seccompy.CmpOp.MASKED_EQ, flag, flag)])
    rules.errno("sendto", errno.EPERM, args=[(4, seccompy.CmpOp.NE, 0)])
    for option in _BUFFER_OPTIONS:
        rules.errno(
            "setsockopt",
            errno.EPERM,
            args=[(1, seccompy.CmpOp.EQ, _SOL_SOCKET), (2, seccompy.CmpOp.EQ, option)],
        )
    rules.errno("clone3", errno.ENOSYS)
    rules.load()
    if seccompy.arch() == "x86_64":

        class X32Filter(seccompy.Filter):
            """The binding's loader (no_new_privs, seccomp(2)) with `_x32_program`."""

            @property
            def program(self) -> bytes:
                return _x32_program()

        X32Filter().load()


def _x32_program() -> bytes:
    """A filter that refuses any syscall number at or above `X32_SYSCALL_BIT` (EPERM).

    The binding matches numbers exactly, so the range check is a program of its own,
    stacked on the first (the kernel applies the stricter answer of the two). The first
    already kills any foreign architecture.
    """
    from seccompy import Action, bpf

    program: list[bpf.Insn] = [
        bpf.Load(0),  # seccomp_data.nr
        bpf.Jump(bpf.BPF_JGEQ, X32_SYSCALL_BIT, "deny", None),
        bpf.Ret(int(Action.ALLOW)),
        bpf.Ret(int(Action.ERRNO) | errno.EPERM),
    ]
    return bpf.assemble(program, {"deny": 3})


def install_hook(roots: list[str], files: bool, network: bool, processes: bool) -> None:
    """Refuse, by audit hook, what nothing else stops: writes outside `roots`, sockets, forks.

    Python-level only: a descriptor-relative open (`dir_fd`) or C code steps around it,
    which is why the kind that relies on it must be asked for by name.
    """
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
    """A pytest plugin that keeps each test's outcome and writes them as JSON at the end.

    With files to cover, it also records which of their lines the tests ran (a trace
    function on while a test runs, in this process and its threads), so the report can say
    what no test reached.
    """

    def __init__(self, path: str, cover: list[str] | None = None) -> None:
        self.path = path
        self.tests: list[dict[str, str]] = []
        work = os.getcwd()
        self.covered = {os.path.join(work, f): f for f in cover or []}
        self.lines: dict[str, set[int]] = {f: set() for f in cover or []}

    def _on_call(self, frame: Any, event: str, arg: Any) -> Any:
        name = self.covered.get(frame.f_code.co_filename)
        if name is None:
            return None
        ran = self.lines[name]

        def on_line(frame: Any, event: str, arg: Any) -> Any:
            if event == "line":
                ran.add(frame.f_lineno)
            return on_line

        return on_line

    def pytest_runtest_setup(self, item: Any) -> None:
        """Trace from the test's setup (fixtures call code too) to the end of its call."""
        if self.covered:
            threading.settrace(self._on_call)
            sys.settrace(self._on_call)

    def pytest_runtest_teardown(self, item: Any) -> None:
        """Stop tracing when a test's call ends, so fixtures' teardown is not counted."""
        if self.covered:
            sys.settrace(None)
            threading.settrace(None)

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
        sys.settrace(None)
        lines = {f: sorted(ran) for f, ran in self.lines.items()}
        with open(self.path, "w", encoding="utf-8") as f:
            json.dump({"tests": self.tests, "lines": lines}, f)


def isolate(config: dict[str, Any]) -> str:
    """Apply Landlock and seccomp as the config asks; what was applied, for the output."""
    applied = []
    for step, mode in (("landlock", config["landlock"]), ("seccomp", config["seccomp"])):
        if mode == "off":
            continue
        try:
            if step == "landlock":
                abi = apply_landlock(config["read"], [config["work"]], config["devices"])
                applied.append(f"landlock abi {abi}")
            else:
                apply_seccomp(config["seccomp_metadata"])
                applied.append("seccomp")
        except Exception as exc:  # the binding's own errors, OSError, a missing module
            if mode == "required":
                print(f"sandbox: {step} could not be applied: {exc}", file=sys.stderr)
                sys.exit(SETUP_FAILED)
    return ", ".join(applied) or "none"


def main() -> int:
    """Read the config from argv, lower limits, isolate, guard, and run pytest."""
    config = json.loads(sys.argv[1])
    set_limits(config["limits"])
    sys.dont_write_bytecode = True
    os.chdir(config["work"])
    sys.path.insert(0, config["runtime"])
    applied = isolate(config)
    import pytest

    guard = config["hook"]
    if any(guard.values()):
        install_hook([config["work"], os.devnull], **guard)
    print(f"sandbox: {applied}", flush=True)
    recorder = Recorder(config["report"], config.get("cover"))
    return int(pytest.main(config["args"], plugins=[recorder]))


if __name__ == "__main__":
    sys.exit(main())
