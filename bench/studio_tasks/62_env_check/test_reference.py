import os
import subprocess
import sys
from pathlib import Path

from envcheck.dotenv import read_keys

ROOT = Path(__file__).resolve().parent
EXAMPLE = "# settings\nDATABASE_URL=postgres://localhost/app\nexport SECRET_KEY=change-me\n\nDEBUG=false\n"


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "envcheck", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_read_keys(tmp_path):
    path = tmp_path / "x.env"
    path.write_text(EXAMPLE + "not a setting\n  # indented comment\nAPI_TOKEN = abc=def\n")
    assert read_keys(path) == ["DATABASE_URL", "SECRET_KEY", "DEBUG", "API_TOKEN"]


def test_missing_and_extra_in_the_current_folder(tmp_path):
    (tmp_path / ".env.example").write_text(EXAMPLE)
    (tmp_path / ".env").write_text("DEBUG=true\nZ_LOCAL=1\nA_LOCAL=2\n")
    result = run(tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "missing: DATABASE_URL",
        "missing: SECRET_KEY",
        "extra: A_LOCAL",
        "extra: Z_LOCAL",
    ]


def test_only_extra_keys_pass(tmp_path):
    (tmp_path / ".env.example").write_text("A=1\n")
    (tmp_path / ".env").write_text("A=2\nB=3\n")
    result = run(tmp_path)
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["extra: B"]


def test_other_paths(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "sample.env").write_text("A=1\nB=1\n")
    (tmp_path / "conf" / "prod.env").write_text("export A=1\nB=2\n")
    result = run(tmp_path, "--example", "conf/sample.env", "--env", "conf/prod.env")
    assert result.returncode == 0
    assert result.stdout.strip() == ""


def test_missing_file(tmp_path):
    (tmp_path / ".env.example").write_text("A=1\n")
    result = run(tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip()
