from pathlib import Path

from notes.cli import main
from notes.index import build_index
from notes.tags import extract_tags


def test_extract_tags():
    text = "# Weekly notes\n#Python and #to-read, also #ml_ops\n## Heading two\nnothing here"
    assert extract_tags(text) == {"python", "to-read", "ml_ops"}


def test_not_tags():
    assert extract_tags("page#3 and https://example.com/docs#install") == set()
    assert extract_tags("# Title only\n### Sub") == set()
    assert extract_tags("") == set()


def make_notes(base: Path) -> Path:
    files = {
        "inbox.md": "#todo call the bank #Finance",
        "work/standup.md": "# Standup\nnotes #todo #work",
        "work/deep/ideas.md": "#ideas\n#work",
        "readme.txt": "#todo but not markdown",
    }
    for rel, text in files.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(text)
    return base


def test_build_index(tmp_path):
    assert build_index(make_notes(tmp_path)) == {
        "todo": ["inbox.md", "work/standup.md"],
        "finance": ["inbox.md"],
        "work": ["work/deep/ideas.md", "work/standup.md"],
        "ideas": ["work/deep/ideas.md"],
    }


def test_cli_lists_tags(tmp_path, capsys):
    assert main([str(make_notes(tmp_path))]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "finance (1)",
        "ideas (1)",
        "todo (2)",
        "work (2)",
    ]


def test_cli_notes_of_a_tag(tmp_path, capsys):
    folder = str(make_notes(tmp_path))
    assert main([folder, "--tag", "#TODO"]) == 0
    assert capsys.readouterr().out.splitlines() == ["inbox.md", "work/standup.md"]
    assert main([folder, "--tag", "work"]) == 0
    assert capsys.readouterr().out.splitlines() == ["work/deep/ideas.md", "work/standup.md"]


def test_cli_unknown_tag(tmp_path, capsys):
    assert main([str(make_notes(tmp_path)), "--tag", "holiday"]) == 1
    assert capsys.readouterr().out.strip() == ""
