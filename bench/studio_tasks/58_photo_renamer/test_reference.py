import subprocess
import sys
from pathlib import Path

from renamer.plan import plan_renames

ROOT = Path(__file__).resolve().parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "renamer", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def folder(tmp_path: Path, names: list[str]) -> Path:
    base = tmp_path / "trip"
    base.mkdir()
    for name in names:
        (base / name).write_text(name)
    return base


def test_plan_orders_ignoring_case_and_lowercases_extensions():
    assert plan_renames(["IMG_0042.JPG", "b.png", "a.jpeg"], "trip") == [
        ("a.jpeg", "trip_001.jpeg"),
        ("b.png", "trip_002.png"),
        ("IMG_0042.JPG", "trip_003.jpg"),
    ]


def test_plan_leaves_out_names_already_right():
    assert plan_renames(["trip_001.jpg", "x.jpg"], "trip") == [("x.jpg", "trip_002.jpg")]


def test_plan_pads_to_more_digits_when_needed():
    pairs = plan_renames([f"p{i:04d}.jpg" for i in range(1000)], "t")
    assert pairs[0] == ("p0000.jpg", "t_0001.jpg") and pairs[-1] == ("p0999.jpg", "t_1000.jpg")


def test_cli_renames_files_only(tmp_path):
    base = folder(tmp_path, ["DSC2.JPG", "dsc1.jpg"])
    (base / "sub").mkdir()
    result = run(str(base), "--prefix", "rome")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["dsc1.jpg -> rome_001.jpg", "DSC2.JPG -> rome_002.jpg"]
    assert sorted(p.name for p in base.iterdir()) == ["rome_001.jpg", "rome_002.jpg", "sub"]
    assert (base / "rome_002.jpg").read_text() == "DSC2.JPG"


def test_cli_dry_run_changes_nothing(tmp_path):
    base = folder(tmp_path, ["b.jpg", "a.jpg"])
    result = run(str(base), "--prefix", "x", "--dry-run")
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["a.jpg -> x_001.jpg", "b.jpg -> x_002.jpg"]
    assert sorted(p.name for p in base.iterdir()) == ["a.jpg", "b.jpg"]


def test_cli_refuses_to_overwrite(tmp_path):
    base = folder(tmp_path, ["b.jpg", "a.jpg"])
    (base / "x_002.jpg").mkdir()  # a subfolder: not renamed, but its name is taken
    result = run(str(base), "--prefix", "x")
    assert result.returncode == 1
    assert result.stderr.strip()
    assert sorted(p.name for p in base.iterdir()) == ["a.jpg", "b.jpg", "x_002.jpg"]
