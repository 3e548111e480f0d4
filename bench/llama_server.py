"""llama.cpp's own `llama-server`, built from the llama.cpp our engine ships, for the anchor bench.

`python bench/llama_server.py setup` downloads the llama-cpp-python sdist of the version the
Makefile pins, builds its vendored llama.cpp's `llama-server` target with the Makefile's own
CMake arguments and compiler flags (GGML_NATIVE, no CURL, no AMX), and caches the binary
under `~/.cache/terraqore/llama-server/<key>/`, keyed like the wheel (the CPU's flags and the
build options), so it is built once per machine. Not part of `make setup`: only the batching
bench (`bench/batching.py`) runs it.

`python bench/llama_server.py path` prints the cached binary's path (exit 1 if not built).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _make_var(name: str) -> str:
    """A `NAME := value` line of the Makefile: the one place the build flags are written."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{name} := (.*)$", text, re.MULTILINE)
    if match is None:
        raise SystemExit(f"the Makefile has no {name}")
    return match.group(1).strip()


VERSION = _make_var("LLAMA_CPP_VERSION")
CMAKE_ARGS = _make_var("LLAMA_CMAKE_ARGS")
CFLAGS = _make_var("LLAMA_CFLAGS")


def cpu_key() -> str:
    """The Makefile's CPU_KEY: the CPU's flags line and the build options, hashed."""
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("flags"):
                flags = line + "\n"
                break
    except OSError:
        pass
    return hashlib.sha256(f"{flags}{CMAKE_ARGS} {CFLAGS}\n".encode()).hexdigest()[:12]


def binary_path() -> Path:
    """Where the built `llama-server` is cached."""
    cache = Path.home() / ".cache" / "terraqore" / "llama-server" / cpu_key()
    return cache / f"llama-server-{VERSION}"


def setup() -> Path:
    """Build `llama-server` once (about ten minutes on two cores); return its path."""
    target = binary_path()
    if target.exists():
        print(f"llama-server {VERSION}: cached at {target}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llama-server-") as tmp:
        work = Path(tmp)
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:"]
        subprocess.run(
            [*pip, "--no-deps", f"llama-cpp-python=={VERSION}", "-d", str(work)], check=True
        )
        sdist = next(work.glob("llama_cpp_python-*.tar.gz"))
        with tarfile.open(sdist) as tar:
            tar.extractall(work, filter="data")
        source = work / f"llama_cpp_python-{VERSION}" / "vendor" / "llama.cpp"
        build = work / "build"
        env = dict(os.environ, CFLAGS=CFLAGS, CXXFLAGS=CFLAGS)
        # The server, without its web page (the prebuilt one would be downloaded).
        extra = ["-DLLAMA_BUILD_TOOLS=ON", "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_BUILD_UI=OFF"]
        extra += ["-DLLAMA_USE_PREBUILT_UI=OFF", "-DBUILD_SHARED_LIBS=OFF"]
        extra += ["-DCMAKE_BUILD_TYPE=Release"]
        subprocess.run(
            ["cmake", "-S", str(source), "-B", str(build), *CMAKE_ARGS.split(), *extra],
            check=True,
            env=env,
        )
        jobs = str(os.cpu_count() or 1)
        subprocess.run(
            ["cmake", "--build", str(build), "--target", "llama-server", "-j", jobs],
            check=True,
            env=env,
        )
        shutil.copy2(build / "bin" / "llama-server", target)
    print(f"llama-server {VERSION}: built at {target}")
    return target


def main() -> None:
    """`setup` builds (or finds) the binary; `path` prints where it is."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["setup", "path"])
    args = parser.parse_args()
    if args.command == "setup":
        setup()
        return
    path = binary_path()
    if not path.exists():
        raise SystemExit(f"not built: run `python bench/llama_server.py setup` ({path})")
    print(path)


if __name__ == "__main__":
    main()
