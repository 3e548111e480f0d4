import json

from todo.cli import main
from todo.store import load, save


def test_store_round_trip(tmp_path):
    path = tmp_path / "t.json"
    assert load(path) == []
    items = [{"text": "buy milk", "done": False}, {"text": "call mom", "done": True}]
    save(path, items)
    assert load(path) == items
    assert json.loads(path.read_text()) == items


def test_add_list_done(tmp_path, capsys):
    f = str(tmp_path / "todo.json")
    assert main(["--file", f, "add", "buy", "milk"]) == 0
    assert main(["--file", f, "add", "call", "mom"]) == 0
    assert main(["--file", f, "done", "2"]) == 0
    capsys.readouterr()
    assert main(["--file", f, "list"]) == 0
    assert capsys.readouterr().out.splitlines() == ["1. [ ] buy milk", "2. [x] call mom"]
    assert load(f) == [{"text": "buy milk", "done": False}, {"text": "call mom", "done": True}]


def test_empty_list(tmp_path, capsys):
    assert main(["--file", str(tmp_path / "none.json"), "list"]) == 0
    assert capsys.readouterr().out.strip() == "Nothing to do."


def test_done_without_such_item(tmp_path, capsys):
    f = str(tmp_path / "todo.json")
    main(["--file", f, "add", "one"])
    capsys.readouterr()
    assert main(["--file", f, "done", "5"]) == 1
    assert capsys.readouterr().err.strip()
    assert load(f) == [{"text": "one", "done": False}]


def test_default_file_in_current_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["add", "water", "plants"]) == 0
    assert load(tmp_path / "todo.json") == [{"text": "water plants", "done": False}]
