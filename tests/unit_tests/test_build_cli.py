"""`terraqore build` with scripted agent models: progress lines, the folder, the exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from terraqore.app.cli.app import app
from tests.studio_fakes import VULNERABLE


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TERRAQORE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_build_writes_the_project_report_and_record(fakes, tmp_path: Path) -> None:
    fakes()
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", "Write add(a, b) in solution.py", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "✓ coder wrote 3 versions of solution.py" in result.output  # three by default
    assert "tests passed: 2/2" in result.output and "security: pass" in result.output
    assert (out / "solution.py").read_text().startswith("def add")
    assert "def test_01_small" in (out / "test_validator_designed.py").read_text()
    record = json.loads((out / "studio.json").read_text())
    assert record["validation"]["passed"] and record["rounds"] == {"fix": 0, "security": 0}
    assert (out / "REPORT.md").read_text().startswith("# add(a, b)")  # a short task


def test_build_says_how_many_versions_were_written_and_which_was_kept(
    fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.studio_fakes import CLEAN, WRONG

    fakes(coder=[WRONG, CLEAN])
    result = CliRunner().invoke(app, ["build", "add", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "✓ coder wrote 3 versions of solution.py" in result.output
    assert "kept candidate #1 of 3" in result.output
    assert "(the task's examples" not in result.output  # the task states no example
    fakes()
    monkeypatch.setenv("TERRAQORE_CODER_CANDIDATES", "1")
    result = CliRunner().invoke(app, ["build", "add", "--out", str(tmp_path / "one")])
    assert "✓ coder wrote solution.py" in result.output and "kept candidate" not in result.output


def test_build_says_how_the_task_s_own_examples_fared(fakes, tmp_path: Path) -> None:
    fakes()
    task = "Write add(a, b) in solution.py: `add(1, 2)` is `3`."
    result = CliRunner().invoke(app, ["build", task, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "tests passed: 2/2" in result.output
    assert "(the task's examples: 1/1)" in result.output
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert "The task's own examples, restated as tests: 1 of 1 passed." in report


def test_build_exits_1_when_the_gate_blocks_but_still_writes(fakes, tmp_path: Path) -> None:
    fakes(coder=[VULNERABLE])
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", "add", "--out", str(out)])
    assert result.exit_code == 1 and "security: block" in result.output
    assert "shell=True" in (out / "solution.py").read_text()


def test_build_asks_for_plan_approval_and_stops_on_no(fakes, tmp_path: Path) -> None:
    fake = fakes()
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["build", "add", "--out", str(out), "--approve-plan"], input="no\n"
    )
    assert "Approve?" in result.output and "coder" not in fake.calls
    assert result.exit_code == 1 and (out / "REPORT.md").is_file()


def test_empty_task_is_a_clear_error(fakes) -> None:
    result = CliRunner().invoke(app, ["build", "  "])
    assert result.exit_code == 1 and "the task is empty" in result.output


def test_build_refuses_before_any_model_when_no_sandbox_isolates(
    fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from terraqore.codecheck import sandbox

    calls = fakes()

    def nothing_works(kind: str | None = None) -> sandbox._Plan:
        raise sandbox.SandboxUnavailable(sandbox._unavailable_message({"landlock": ["no ABI"]}))

    monkeypatch.setattr(sandbox, "choose", nothing_works)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", "add", "--out", str(out)])
    assert result.exit_code == 4, result.output
    assert "Tried: landlock (no ABI)" in result.output
    assert "--sandbox audit-hook" in result.output
    assert not out.exists() and calls.calls == []  # refused before any agent ran


def test_build_with_an_unknown_sandbox_is_a_clear_error(fakes, tmp_path: Path) -> None:
    fakes()
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", "add", "--sandbox", "chroot", "--out", str(out)])
    assert result.exit_code == 4 and not out.exists()
    assert "unknown sandbox 'chroot'" in result.output


def test_build_unsandboxed_only_when_asked_and_the_report_says_so_first(
    fakes, tmp_path: Path
) -> None:
    fakes()
    out = tmp_path / "out"
    args = ["build", "Write add(a, b) in solution.py", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--sandbox", "audit-hook"])
    assert result.exit_code == 0, result.output
    assert "warning: UNSANDBOXED" in result.output
    report = (out / "REPORT.md").read_text()
    assert report.splitlines()[0].startswith("> **UNSANDBOXED**")
    # By default the strongest isolating kind runs, and the report does not open with it.
    default = tmp_path / "default"
    result = CliRunner().invoke(app, [*args[:2], "--out", str(default)])
    assert result.exit_code == 0, result.output
    assert "sandbox: " in result.output and "UNSANDBOXED" not in result.output
    assert (default / "REPORT.md").read_text().startswith("# add(a, b)")  # a short task


def test_tests_that_never_call_the_task_s_function_are_not_a_pass(fakes, tmp_path: Path) -> None:
    # They call `add`, but wrongly, so the function's body never runs.
    code = "import pytest\nwith pytest.raises(TypeError):\n    add({})"
    tests = [{"name": f"args_{n}", "code": code.format(", ".join(["1"] * n))} for n in (0, 1, 3)]
    shallow = json.dumps({"tests": tests})
    fakes(validator=[shallow])
    out = tmp_path / "out"
    # The task speaks of the error, so tests expecting it are not dropped as invented.
    task = "Write add(a, b) in solution.py; a wrong number of arguments raises TypeError"
    result = CliRunner().invoke(app, ["build", task, "--out", str(out)])
    assert result.exit_code == 5, result.output
    assert "tests passed: 3/3" in result.output
    assert "untested: no test called add" in result.output
    report = (out / "REPORT.md").read_text()
    assert "**Not shown to work**" in report and "- Untested: no test called `add`" in report
    record = json.loads((out / "studio.json").read_text())
    assert record["validation"]["reach"] == [
        {"file": "solution.py", "name": "add", "lines": 1, "ran": 0}
    ]


def test_a_staged_build_says_when_the_first_version_brings_its_siblings(
    fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.studio_fakes import CLEAN, WRONG

    monkeypatch.setenv("TERRAQORE_STAGED", "1")
    fakes(coder=[WRONG, CLEAN])
    task = "Write add(a, b) in solution.py. add(1, 2) returns 3."
    result = CliRunner().invoke(app, ["build", task, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    # The first version fails the task's example: its fix and two siblings come in one turn.
    assert "✓ coder wrote solution.py" in result.output
    assert "the coder writes its other versions" in result.output
    assert "✓ coder wrote a fix and 2 more version(s) of solution.py" in result.output
    assert "kept candidate #" in result.output and "of 4" in result.output
