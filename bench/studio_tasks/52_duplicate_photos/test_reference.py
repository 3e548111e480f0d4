import subprocess
import sys
from pathlib import Path

from dupes.scan import find_duplicates

ROOT = Path(__file__).resolve().parent


def write(base: Path, rel: str, data: bytes) -> None:
    path = base / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def photos(tmp_path: Path) -> Path:
    base = tmp_path / "photos"
    jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40
    write(base, "2019/beach.jpg", jpeg)
    write(base, "phone/DCIM/IMG_0001.JPG", jpeg)
    write(base, "backup/old/copy of beach.jpg", jpeg)
    write(base, "2020/cat.png", b"cat" * 500)
    write(base, "2020/cat-edited.png", b"cAt" * 500)  # same size, other content
    write(base, "2021/dog.png", b"dog" * 10)
    write(base, "dog-copy.png", b"dog" * 10)
    write(base, "unique.gif", b"gif89a")
    write(base, "empty1.txt", b"")
    write(base, "sub/empty2.txt", b"")
    return base


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dupes", *args], cwd=ROOT, capture_output=True, text=True, timeout=30
    )


def test_groups_files_with_equal_content_in_nested_folders(tmp_path):
    assert find_duplicates(photos(tmp_path)) == [
        ["2019/beach.jpg", "backup/old/copy of beach.jpg", "phone/DCIM/IMG_0001.JPG"],
        ["2021/dog.png", "dog-copy.png"],
    ]


def test_accepts_a_string_path_and_finds_nothing_in_distinct_files(tmp_path):
    write(tmp_path, "a.jpg", b"one")
    write(tmp_path, "b/b.jpg", b"two")
    assert find_duplicates(str(tmp_path)) == []


def test_cli_prints_groups(tmp_path):
    result = run(str(photos(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().split("\n\n") == [
        "2019/beach.jpg\nbackup/old/copy of beach.jpg\nphone/DCIM/IMG_0001.JPG",
        "2021/dog.png\ndog-copy.png",
    ]


def test_cli_without_duplicates(tmp_path):
    write(tmp_path, "only.jpg", b"x")
    result = run(str(tmp_path))
    assert result.returncode == 0
    assert result.stdout.strip() == "No duplicates found."


def test_cli_missing_folder(tmp_path):
    result = run(str(tmp_path / "nope"))
    assert result.returncode == 2
    assert result.stderr.strip()
    assert result.stdout.strip() == ""
