import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from dateparse import parse_date

ROOT = Path(__file__).resolve().parent
BROKEN = """
from datetime import date


def parse_date(text):
    return date(2000, 1, 1)
"""


@pytest.mark.parametrize(
    "text",
    [
        "2024-03-05",
        "05/03/2024",
        "5/3/2024",
        "5 March 2024",
        "5 Mar 2024",
        "March 5, 2024",
        "Mar 5, 2024",
        "  5 MARCH 2024 ",
        "march 5, 2024",
    ],
)
def test_every_format(text):
    assert parse_date(text) == date(2024, 3, 5)


def test_day_comes_first_with_slashes():
    assert parse_date("01/12/2023") == date(2023, 12, 1)
    assert parse_date("28 Feb 2023") == date(2023, 2, 28)
    assert parse_date("Sep 30, 2021") == date(2021, 9, 30)


@pytest.mark.parametrize(
    "bad", ["", "yesterday", "31/02/2024", "2024-13-01", "5 Marc 2024", "March 5 2024", "5.3.2024"]
)
def test_errors(bad):
    with pytest.raises(ValueError):
        parse_date(bad)


def run_user_tests(folder: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(pytest.__file__).resolve().parents[1])}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_dateparse.py"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_written_tests_pass_on_the_module(tmp_path):
    for name in ("dateparse.py", "test_dateparse.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    result = run_user_tests(tmp_path)
    assert result.returncode == 0, result.stdout[-2000:]
    assert " passed" in result.stdout


def test_the_written_tests_catch_a_broken_module(tmp_path):
    shutil.copy(ROOT / "test_dateparse.py", tmp_path / "test_dateparse.py")
    (tmp_path / "dateparse.py").write_text(BROKEN)
    result = run_user_tests(tmp_path)
    assert result.returncode == 1, result.stdout[-2000:]
