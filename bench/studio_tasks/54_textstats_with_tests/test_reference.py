import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from textstats import average_word_length, sentence_count, word_count

ROOT = Path(__file__).resolve().parent
BROKEN = """
def word_count(text):
    return -1


def sentence_count(text):
    return -1


def average_word_length(text):
    return -1.0
"""


def test_word_count():
    assert word_count("don't stop-now") == 3
    assert word_count("Hello, world! 42 times") == 4
    assert word_count("") == 0
    assert word_count("  -- ... ") == 0


def test_sentence_count():
    assert sentence_count("Hi. How are you?! Fine...") == 3
    assert sentence_count("One sentence without an ending") == 1
    assert sentence_count("First. Second") == 2
    assert sentence_count("") == 0
    assert sentence_count("?!...") == 0


def test_average_word_length():
    assert average_word_length("ab abcd") == 3.0
    assert average_word_length("I am here") == 2.33
    assert average_word_length("") == 0.0


def run_user_tests(folder: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(pytest.__file__).resolve().parents[1])}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_textstats.py"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_written_tests_pass_on_the_module(tmp_path):
    for name in ("textstats.py", "test_textstats.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    result = run_user_tests(tmp_path)
    assert result.returncode == 0, result.stdout[-2000:]
    assert " passed" in result.stdout


def test_the_written_tests_catch_a_broken_module(tmp_path):
    shutil.copy(ROOT / "test_textstats.py", tmp_path / "test_textstats.py")
    (tmp_path / "textstats.py").write_text(BROKEN)
    result = run_user_tests(tmp_path)
    assert result.returncode == 1, result.stdout[-2000:]
