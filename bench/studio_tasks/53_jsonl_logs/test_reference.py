import json
import subprocess
import sys
from pathlib import Path

from logstats.cli import main
from logstats.reader import read_records

ROOT = Path(__file__).resolve().parent


def logs(tmp_path: Path) -> list[str]:
    a = tmp_path / "api.jsonl"
    b = tmp_path / "worker.jsonl"
    a.write_text(
        "\n".join(
            [
                json.dumps({"level": "info", "msg": "started"}),
                json.dumps({"level": "ERROR", "msg": "db timeout"}),
                "",
                "not json at all",
                json.dumps({"level": "warning", "msg": "slow query"}),
                json.dumps({"msg": "no level here"}),
            ]
        )
        + "\n"
    )
    b.write_text(
        json.dumps({"level": "error", "msg": "job 7 failed"})
        + "\n[1, 2]\n"
        + json.dumps({"level": "info", "msg": "job 8 done"})
        + "\n"
    )
    return [str(a), str(b)]


def test_read_records(tmp_path):
    records, bad = read_records(logs(tmp_path))
    assert [r["msg"] for r in records] == [
        "started",
        "db timeout",
        "slow query",
        "no level here",
        "job 7 failed",
        "job 8 done",
    ]
    assert bad == 2


def test_counts_per_level(tmp_path, capsys):
    assert main(logs(tmp_path)) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["ERROR 2", "INFO 2", "UNKNOWN 1", "WARNING 1"]
    assert "skipped 2 bad lines" in err


def test_messages_of_one_level(tmp_path, capsys):
    assert main([*logs(tmp_path), "--level", "Error"]) == 0
    assert capsys.readouterr().out.splitlines() == ["db timeout", "job 7 failed"]


def test_clean_file_says_nothing_on_stderr(tmp_path, capsys):
    path = tmp_path / "ok.jsonl"
    path.write_text(json.dumps({"level": "debug", "msg": "x"}) + "\n")
    assert main([str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["DEBUG 1"] and err == ""


def test_python_dash_m(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "logstats", *logs(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == "ERROR 2"
