"""Start the real built-in server as a subprocess for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from terraqore.client.server_process import log_tail

TINY = "smollm2:135m"
CHAT = "qwen2.5-coder:0.5b"
EMBED = "all-minilm"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    home: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def alive(self) -> bool:
        return self.process.poll() is None

    def peak_rss_mb(self) -> float:
        """The server process's peak resident memory so far (VmHWM), in MiB: a memory watch."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(ln for ln in status.splitlines() if ln.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    home: Path, env_extra: dict[str, str] | None = None, timeout: float = 120
) -> RunningServer:
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    log = home / "server.log"
    env = {**os.environ, "TERRAQORE_HOME": str(home), **(env_extra or {})}
    env.pop("OLLAMA_HOST", None)
    env.pop("TERRAQORE_OLLAMA_HOST", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_tail(log, 40)}")
        try:
            if httpx.get(f"{url}/", timeout=0.5).status_code == 200:
                return RunningServer(url, home, proc, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server did not start:\n{log_tail(log, 40)}")


def guarded_cli(
    args: list[str], log: Path, env_extra: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `terraqore ARGS` with the network guard, which logs any connection beyond loopback."""
    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": f"{root / 'tests' / 'net_guard'}:{root}",
        "NET_GUARD_LOG": str(log),
        **env_extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "terraqore.app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=root,
    )
