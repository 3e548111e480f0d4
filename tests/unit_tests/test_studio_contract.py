"""The task's contract: the names a task fixes, read without a model, and code held to them.

The demo's task ("a Python function is_palindrome(text) ...") came back as `text_palindrome`:
the Planner renamed it and the Coder and the Validator followed (issue 25).
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import ollama
import pytest

from agents.coder import rule_on_tests
from terraqore.codecheck.contract_check import (
    check,
    correct_plan,
    fix_imports,
    foreign_names,
    keep_names,
    place_files,
)
from terraqore.codecheck.task_contract import describe, functions, names, read_contract

DEMO = "a Python function is_palindrome(text) that ignores case, spaces and punctuation"
TASKS = Path(__file__).resolve().parents[2] / "bench" / "studio_tasks"


def test_prose_signatures_give_names_and_parameters() -> None:
    assert describe(read_contract(DEMO)) == ["is_palindrome(text)"]
    task = (
        "Write `dedupe(items: list, key=None) -> list` in `solution.py`: items are duplicates"
        " when `key(item)` is equal; use len(items) and cache.get(k). List the file(s)."
    )
    contract = read_contract(task)
    # key is a parameter, len a built-in, cache.get a method call, file(s) English.
    assert describe(contract) == ["dedupe(items, key=…)", "file solution.py"]
    assert functions(contract) == {"dedupe": 1}
    # A call with literal arguments fixes the name and how many arguments it takes.
    assert describe(read_contract("roman_to_int('XIV') is 14")) == ["roman_to_int(…)"]
    assert describe(read_contract("a CLI that finds duplicate photos")) == []


def test_def_and_class_lines_give_functions_classes_and_methods() -> None:
    task = '''Implement this:

```python
class Stack:
    def __init__(self, limit: int = 10):
        self.items = []

    def push(self, item):
        def helper(x):
            return x

    @staticmethod
    def empty() -> bool: ...


def top(stack, *rest, key=None, **options) -> int:
    """The top."""
```
'''
    assert describe(read_contract(task)) == [
        "class Stack(limit=…)",
        "Stack.push(item)",
        "Stack.empty()",
        "top(stack, *rest, key=…, **options)",
    ]


def test_files_modules_and_commands_the_task_fixes() -> None:
    task = (
        "A CLI named `dupes` in `dupes/cli.py` with a module `dupes.scan`; run it as"
        " `python -m dupes` or\n\n    $ dupes ./photos\n"
    )
    contract = read_contract(task)
    assert contract["files"] == ["dupes/cli.py"]
    assert contract["modules"] == ["dupes.scan", "dupes"]
    assert contract["commands"] == ["dupes"]


def test_every_suite_task_gives_the_names_its_hidden_tests_call() -> None:
    from bench import studio_suite

    wanted = {
        "01_palindrome": ["is_palindrome(text)"],
        "03_roman": ["to_roman(n)", "from_roman(s)"],
        "07_word_freq": ["top_words(text, n)"],
        "12_lru_cache": ["class LRUCache(capacity)", "get(key)", "put(key, value)"],
        "20_dedupe": ["dedupe(items, key=…)"],
        "21_csv_line": ["parse_csv_line(line)"],
    }
    for task in studio_suite.tasks():
        contract = read_contract(task.text())
        assert set(contract["files"]) <= set(task.files), task.name
        # Every callable the task's metadata fixes (constants like FACTORS are not callables).
        fixed = {n.split(".")[-1] for names in task.files.values() for n in names}
        assert {n for n in fixed if not n.isupper()} <= names(contract), task.name
        if task.name in wanted:
            assert describe(contract)[: len(wanted[task.name])] == wanted[task.name], task.name
        # The reference solution keeps its own task's contract.
        assert check(task.reference(), contract) == {"kept": True, "broken": []}, task.name


def test_classes_named_with_bases_or_as_exception_classes_in_prose() -> None:
    contract = read_contract(
        "- `errors.py`: `ConfigError(Exception)` with an attribute `line`.\n"
        "- `convert.py` has an exception class `UnitError`, a subclass of ValueError.\n"
        "```python\ndef due(start: date, holidays: frozenset[date] = frozenset()) -> date:\n```"
    )
    assert describe(contract)[:3] == [
        "due(start, holidays=…)",  # the default's parentheses do not end the signature
        "class ConfigError(…)",  # a class with its base, not a constructor taking Exception
        "class UnitError(…)",
    ]
    # "module `stats.py`" names the module stats, not a module called "stats.py".
    assert read_contract("a module `stats.py` with mean(xs)")["modules"] == ["stats"]


HOSTILE = {
    "nested parentheses": "f" + "(" * 50_000 + ")" * 50_000,
    "open parentheses": "name(" * 20_000,
    "def lines": "def f(" * 20_000,
    "indented defs": "".join(f"{' ' * (i % 40)}def f{i}(a):\n" for i in range(4_000)),
    "calls with literals": "g('x') is 1. " * 8_000,
    "backticks": "`" * 100_000,
    "file names": "a/" * 50_000 + ".py",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_reader_is_bounded_on_hostile_input(name: str) -> None:
    text = HOSTILE[name]
    assert len(text) >= 80_000
    start = time.perf_counter()
    contract = read_contract(text)
    seconds = time.perf_counter() - start
    assert len(contract["callables"]) <= 30
    assert seconds < 0.5, f"{name}: {seconds:.3f} s"


def test_a_renamed_function_breaks_the_contract_and_is_renamed_back() -> None:
    contract = read_contract(DEMO)
    files = {
        "src/pal.py": '__all__ = ["text_palindrome"]\n\n\ndef text_palindrome(text):\n'
        '    """Check."""\n    t = [c for c in text.lower() if c.isalnum()]\n'
        "    return t == t[::-1]\n",
        "test_pal.py": "from src.pal import text_palindrome\n\n\ndef test_x():\n"
        "    assert text_palindrome('aa')\n",
    }
    assert check(files, contract) == {
        "kept": False,
        "broken": ["is_palindrome(text): is_palindrome is not defined"],
    }
    fixed, changes = keep_names(files, contract)
    assert changes == ["renamed text_palindrome to is_palindrome, the task's name"]
    assert "def is_palindrome(text):" in fixed["src/pal.py"]
    assert "__all__ = ['is_palindrome']" in fixed["src/pal.py"]  # a star import exports it
    assert "from src.pal import is_palindrome" in fixed["test_pal.py"]
    assert check(fixed, contract)["kept"]


def test_no_rename_when_it_is_ambiguous_or_the_parameters_differ() -> None:
    contract = read_contract(DEMO)
    two = "def text_palindrome(t):\n    return t\n\n\ndef check_palindrome(t):\n    return t\n"
    assert keep_names({"solution.py": two}, contract) == ({"solution.py": two}, [])
    other_arity = "def text_palindrome(a, b):\n    return a\n"
    assert keep_names({"solution.py": other_arity}, contract)[1] == []
    # The only public function of the code is taken even without a word in common.
    only = "def check(s):\n    return s == s[::-1]\n\n\ndef _helper():\n    return 1\n"
    fixed, changes = keep_names({"solution.py": only}, contract)
    assert changes == ["renamed check to is_palindrome, the task's name"]
    assert check(fixed, contract)["kept"]
    # The task's name already used in the code: nothing is renamed.
    used = "def text_palindrome(t):\n    is_palindrome = 1\n    return t\n"
    assert keep_names({"solution.py": used}, contract)[1] == []


def test_parameters_must_take_the_calls_the_task_shows() -> None:
    contract = read_contract((TASKS / "20_dedupe" / "task.md").read_text())
    assert check({"solution.py": "def dedupe(items, key=None):\n    pass\n"}, contract)["kept"]
    assert check({"solution.py": "def dedupe(items, *, key=None):\n    pass\n"}, contract)["kept"]
    assert check({"solution.py": "def dedupe(items):\n    pass\n"}, contract)["broken"] == [
        "dedupe(items, key=…): dedupe takes other arguments"
    ]
    lru = read_contract((TASKS / "12_lru_cache" / "task.md").read_text())
    # get and put, named alone in prose, are the class's methods.
    good = (
        "class LRUCache:\n    def __init__(self, capacity):\n        pass\n"
        "    def get(self, key):\n        pass\n    def put(self, key, value):\n        pass\n"
    )
    assert check({"solution.py": good}, lru)["kept"]
    no_capacity = good.replace("self, capacity", "self")
    assert check({"solution.py": no_capacity}, lru)["broken"] == [
        "class LRUCache(capacity): class LRUCache takes other arguments"
    ]
    # A file the task names must be written.
    assert check({"other.py": good}, lru)["broken"] == ["file solution.py: not written"]


def test_a_plan_that_renamed_the_task_s_names_is_corrected() -> None:
    """The demo's plan, as the Planner wrote it (issue 25)."""
    plan = {
        "files": [{"path": "src/text_palindrome.py", "purpose": "text_palindrome(text)"}],
        "steps": ["import `text_palindrome` from `graphs.qa`, `build_graph` from langgraph"],
        "acceptance": ["text_palindrome('A man') is True"],
        "tests": ["text_palindrome('ab') -> False"],
    }
    fixed, notes = correct_plan(plan, read_contract(DEMO))
    assert notes == ["the plan named text_palindrome where the task says is_palindrome; corrected"]
    assert fixed["files"] == [{"path": "src/is_palindrome.py", "purpose": "is_palindrome(text)"}]
    assert "text_palindrome" not in str(fixed) and "`build_graph`" in fixed["steps"][0]
    # A plan that keeps the task's name is left alone, helpers and all.
    kept = {**plan, "steps": ["is_palindrome(text) calls clean_palindrome(text)"]}
    assert correct_plan(kept, read_contract(DEMO)) == (kept, [])
    # A file the task fixes replaces the plan's own.
    task = "Write `slugify(text)` in `solution.py`."
    moved, notes = correct_plan(
        {**plan, "files": [{"path": "slug.py", "purpose": "x"}]}, read_contract(task)
    )
    assert moved["files"][0]["path"] == "solution.py"
    assert notes[-1] == "the plan wrote slug.py where the task says solution.py; corrected"


def test_names_a_test_uses_that_nothing_defines() -> None:
    code = "c = LRUCache(2)\nassert c.get(1) is None\nassert [x for x in range(3)] == other(2)"
    assert foreign_names(code, {"LRUCache"}) == {"other"}
    assert foreign_names("with pytest.raises(ValueError): f(-1)", {"f"}) == set()
    assert foreign_names("assert text_palindrome('a')", {"is_palindrome"}) == {"text_palindrome"}


def test_sources_under_the_relevance_floor_never_reach_the_agents(monkeypatch) -> None:
    """The demo's task got docs/serving.md and the Taylor series (issue 25): cosines 0.23, none."""
    from langchain_core.documents import Document

    import nodes.retrieve
    from graphs.studio_context import Context
    from nodes.retrieve import floor_of, search_lake

    docs = [
        Document(
            "The built-in server ...",
            metadata={"title": "The built-in server", "dense_score": 0.234},
        ),
        Document(
            "In mathematics, the Taylor series ...",
            metadata={"title": "Taylor series", "dense_score": None},
        ),
        Document("A palindrome is ...", metadata={"title": "Palindrome", "dense_score": 0.61}),
    ]

    class Retriever:
        def invoke(self, query):
            return docs

    monkeypatch.setattr(nodes.retrieve, "lake_retriever", lambda **kw: Retriever())
    monkeypatch.delenv("TERRAQORE_RELEVANCE_FLOOR", raising=False)
    monkeypatch.delenv("TERRAQORE_EMBEDDING_MODEL", raising=False)
    ctx = Context()
    assert floor_of(ctx) == 0.4  # all-minilm's measured floor
    sources, notes = search_lake(DEMO, ctx)
    assert [(s["n"], s["title"]) for s in sources] == [(1, "Palindrome")]
    assert notes == [
        "2 of 3 retrieved passage(s) left out: less similar to the task than the relevance floor (0.4)"
    ]
    # Off on request, and in BM25 mode (no cosines); the Q&A graph has none by default.
    assert len(search_lake(DEMO, Context(relevance_floor=0))[0]) == 3
    assert floor_of(Context(retrieval_mode="bm25")) == 0.0
    from graphs.qa_context import QAContext

    assert floor_of(QAContext()) == 0.0
    monkeypatch.setenv("TERRAQORE_EMBEDDING_MODEL", "nomic-embed-text")
    assert floor_of(Context()) == 0.0  # not measured on that model's scale


def test_a_source_that_quotes_the_task_never_reaches_the_agents(monkeypatch) -> None:
    """The README's example task got the README and docs/studio.md as sources, above the
    floor, because both print that very command: they show the task, they do not help."""
    from langchain_core.documents import Document

    import nodes.retrieve
    from graphs.studio_context import Context
    from nodes.retrieve import quoting, search_lake

    task = (
        "word_count(text): how many words the text holds, words being separated by any"
        " whitespace; word_count('one two  three') returns 3"
    )
    readme = Document(
        f'Build one: `terraqore build "{task}" --out ./wc` writes the files.',
        metadata={"title": "TerraQore Studio", "dense_score": 0.45},
    )
    words = Document(
        "A word is a basic element of language; in many scripts words are separated by spaces.",
        metadata={"title": "Word", "dense_score": 0.52},
    )

    class Retriever:
        def invoke(self, query):
            return [readme, words]

    monkeypatch.setattr(nodes.retrieve, "lake_retriever", lambda **kw: Retriever())
    monkeypatch.delenv("TERRAQORE_RELEVANCE_FLOOR", raising=False)
    monkeypatch.delenv("TERRAQORE_EMBEDDING_MODEL", raising=False)
    sources, notes = search_lake(task, Context())
    assert [s["title"] for s in sources] == ["Word"]
    assert notes == [
        "1 retrieved passage(s) left out: they repeat the task's own words (TerraQore Studio)"
    ]
    # A pasted definition does not make its article a quote: the run must hold the task's
    # name. A short query is quoted only whole; the Q&A graph (no floor) keeps every passage.
    gcd = Document(
        "In mathematics, the greatest common divisor (GCD) of two or more integers is the"
        " largest positive integer that divides each of the integers.",
        metadata={"title": "Greatest common divisor", "dense_score": 0.6},
    )
    pasted = (
        "Write gcd(a, b) in gcd.py: the largest positive integer that divides each of the"
        " integers a and b."
    )
    assert quoting([gcd], pasted) == []
    assert quoting([words], "words are separated by spaces") == []
    assert quoting([words], "scripts words are separated by commas") == []
    assert quoting([words], "many scripts words are separated by spaces") == [words]
    from graphs.qa_context import QAContext

    assert len(search_lake(task, QAContext())[0]) == 2


def test_one_letter_notation_in_prose_is_not_a_name() -> None:
    task = "Write `integrate(f, a, b)` that integrates f(x) from a to b; the speed v(t) is given."
    assert describe(read_contract(task)) == ["integrate(f, a, b)"]
    assert describe(read_contract("f(2) == 4 and f(3) == 9")) == ["f(…)"]


def test_a_test_file_the_task_names_is_required_and_the_coder_is_asked_for_it() -> None:
    """Task 59 asks for `test_dateparse.py`, and no version wrote it: the Coder had been told
    to write no tests. A test file the task names is part of what the user asked for."""
    contract = read_contract("Write `slugify(text)` in `slug.py`, tested in `test_slug.py`.")
    assert contract["files"] == ["slug.py", "test_slug.py"]
    code = {"slug.py": "def slugify(text):\n    return text\n"}
    assert check(code, contract)["broken"] == ["file test_slug.py: not written"]
    tests = "from slug import slugify\n\ndef test_same():\n    assert slugify('a') == 'a'\n"
    assert check({**code, "test_slug.py": tests}, contract)["kept"]
    assert "in test_slug.py" in rule_on_tests(contract)
    assert rule_on_tests(read_contract("Write `slugify(text)` in `slug.py`.")).startswith(
        "Write no tests"
    )
    plan = {"files": [{"path": "main.py", "purpose": "slugify"}], "steps": [], "tests": []}
    fixed, notes = correct_plan(plan, contract)
    assert [f["path"] for f in fixed["files"]] == ["slug.py"] and len(notes) == 1


def test_a_designed_test_expecting_an_error_the_task_never_asks_for_is_invented() -> None:
    from agents.validator import expects_invented_error

    demo_test = "def test_04_error():\n    with pytest.raises(ValueError):\n        is_palindrome('12345')\n"
    assert expects_invented_error(demo_test, DEMO)
    # The task asks for errors: by name, or in words.
    assert not expects_invented_error(demo_test, DEMO + "; raise ValueError for digits")
    assert not expects_invented_error(demo_test, DEMO + ". Invalid input is refused.")
    tuple_test = "def test_x():\n    with pytest.raises((TypeError, KeyError)):\n        f(1)\n"
    assert expects_invented_error(tuple_test, "add two numbers")
    assert not expects_invented_error(tuple_test, "f(x) gives a KeyError for unknown keys")
    # A test that expects no error is never invented; nor is code that does not parse.
    assert not expects_invented_error("def test_y():\n    assert f(1) == 2\n", "add")
    assert not expects_invented_error("def test_z(:\n", "add")


def test_bare_files_move_to_the_paths_the_task_fixes_and_their_imports_follow() -> None:
    contract = read_contract((TASKS / "53_jsonl_logs" / "task.md").read_text())
    files = {
        "reader.py": "def read_records(paths):\n    return [], 0\n",
        "solution.py": "from reader import read_records\nimport reader\n\ndef main(argv):\n    return 0\n",
        "__main__.py": "import sys\nfrom logstats.cli import main\nsys.exit(main(sys.argv[1:]))\n",
        "test_solution.py": "def test_x():\n    pass\n",
    }
    assert not check(files, contract)["kept"]
    placed, moved = place_files(files, contract)
    assert set(placed) == {
        "logstats/reader.py",
        "logstats/cli.py",
        "logstats/__main__.py",
        "test_solution.py",
    }
    cli = placed["logstats/cli.py"]
    assert "from logstats.reader import read_records" in cli
    assert "import logstats.reader as reader" in cli
    assert len(moved) == 3
    assert check(placed, contract)["kept"]
    # Two strays could each be the missing file: nothing is guessed.
    two = {"logstats/reader.py": "", "logstats/__main__.py": "", "a.py": "", "b.py": ""}
    assert place_files(two, contract) == (two, [])
    assert place_files(files, read_contract(DEMO)) == (files, [])


def test_the_task_says_which_file_each_name_belongs_in() -> None:
    contract = read_contract((TASKS / "53_jsonl_logs" / "task.md").read_text())
    assert contract["homes"] == {
        "logstats/reader.py": ["read_records"],
        "logstats/cli.py": ["main"],
    }
    # Two files on one line say nothing of where a name goes.
    assert read_contract("`a.py` and `b.py`: f(x) and g(y)")["homes"] == {}


def test_one_module_written_for_a_package_is_split_into_the_tasks_files_and_works(
    tmp_path: Path,
) -> None:
    """The graph wrote task 53's package as one `solution.py` (studio_multi run): cut by the
    task's own lines, the reference's code written that way passes the hidden tests."""
    task = TASKS / "53_jsonl_logs"
    contract = read_contract((task / "task.md").read_text())
    reference = task / "reference" / "logstats"
    reader = (reference / "reader.py").read_text()
    cli = (reference / "cli.py").read_text().replace("from logstats.reader import read_records", "")
    one = f"{reader}\n\n{cli}\n\ndef _unused_helper():\n    return 1\n"
    files = {"solution.py": one, "test_solution.py": "def test_x():\n    pass\n"}
    assert not check(files, contract)["kept"]
    split, notes = place_files(files, contract)
    assert set(split) == {
        "logstats/reader.py",
        "logstats/cli.py",
        "logstats/__main__.py",
        "test_solution.py",
    }
    assert notes == [
        "split solution.py into logstats/reader.py, logstats/cli.py, logstats/__main__.py, "
        "the task's paths"
    ]
    assert "from logstats.reader import read_records" in split["logstats/cli.py"]
    assert "def main" not in split["logstats/reader.py"]
    assert "from logstats.cli import main" in split["logstats/__main__.py"]
    assert check(split, contract)["kept"]
    for path, text in split.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    (tmp_path / "test_reference.py").write_text((task / "test_reference.py").read_text())
    _pytest_passes(tmp_path, "test_reference.py")


def test_a_module_that_lacks_a_name_the_task_places_is_not_split() -> None:
    contract = read_contract((TASKS / "53_jsonl_logs" / "task.md").read_text())
    files = {"solution.py": "def read_records(paths):\n    return [], 0\n"}
    assert place_files(files, contract) == (files, [])
    broken = {"solution.py": "def read_records(paths:\n"}
    assert place_files(broken, contract) == (broken, [])


def test_imports_of_the_projects_own_names_point_at_the_module_that_defines_them(
    tmp_path: Path,
) -> None:
    """Task 58's chosen version: `plan.py` imported its own `plan_renames` from the package,
    and `__main__.py` imported it from the package too; neither could even be imported."""
    files = {
        "renamer/plan.py": "import sys\nfrom renamer import plan_renames\n\n\n"
        "def plan_renames(names, prefix):\n    return [(n, prefix + n) for n in names]\n",
        "renamer/__main__.py": "import sys\nfrom os import path\nfrom renamer import plan_renames"
        " as plan\n\nprint(plan(sys.argv[1:], 'x_'), path.sep)\n",
        "helpers/__init__.py": "from helpers.text import shout\n",
        "helpers/text.py": "def shout(s):\n    return s.upper()\n\n\ndef path(s):\n    return s\n",
        "test_it.py": "from helpers import shout\nfrom renamer import plan_renames\n\n\n"
        "def test_it():\n    assert plan_renames(['a'], 'b') == [('a', 'ba')]\n",
    }
    fixed, notes = fix_imports(files)
    assert "from renamer" not in fixed["renamer/plan.py"]
    assert "from renamer.plan import plan_renames as plan" in fixed["renamer/__main__.py"]
    assert "from os import path" in fixed["renamer/__main__.py"]  # not ours: untouched
    assert fixed["helpers/__init__.py"] == files["helpers/__init__.py"]
    assert "from helpers import shout" in fixed["test_it.py"]  # the package re-exports it
    assert "from renamer.plan import plan_renames" in fixed["test_it.py"]
    assert len(notes) == 3 and fix_imports(fixed) == (fixed, [])
    for path, text in fixed.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    run = subprocess.run(
        [sys.executable, "-m", "renamer", "a.jpg"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0 and "x_a.jpg" in run.stdout, run.stderr
    _pytest_passes(tmp_path, "test_it.py")


def _pytest_passes(folder: Path, test_file: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:]


def test_a_task_of_three_files_or_more_gets_a_larger_coder_budget(fakes) -> None:
    from agents.coder import MAX_TOKENS, MODELFILE_TOKENS, write_code
    from graphs.studio_context import Context
    from graphs.studio_state import State

    fake = fakes()
    ctx = Context()
    one = "Write `is_palindrome(text)` in `pal.py`."
    three = "A package: `stats/reader.py`, `stats/report.py` and `stats/cli.py`, tested in `tests/test_cli.py`."
    for task in (one, three):
        write_code(State(task=task, contract=read_contract(task)), ctx)
    small, large = fake.options[0], fake.options[1]  # then the call for the files left out
    assert "num_predict" not in small  # the Modelfile's cap stands
    modelfile = (Path(__file__).parents[2] / "modelfiles" / "coder.Modelfile").read_text()
    assert f"PARAMETER num_predict {MODELFILE_TOKENS}" in modelfile
    assert 1024 < large["num_predict"] <= MAX_TOKENS
    assert large["client_kwargs"]["timeout"] > small["client_kwargs"]["timeout"]
    # A cap the user set wins.
    ctx = Context(coder=replace(ctx.coder, num_predict=700))
    write_code(State(task=three, contract=read_contract(three)), ctx)
    assert "num_predict" not in fake.options[-2] and "num_predict" not in fake.options[-1]


EXPENSES = """A package `expenses`, run as `python -m expenses FILE`.

- `expenses/load.py`: `read_expenses(path)` returns the rows.
- `expenses/report.py`: `totals_by_category(rows)` returns the totals.
- `expenses/__main__.py` prints one line per category.
"""
LOAD = "```python\n# expenses/load.py\ndef read_expenses(path):\n    return []\n```\n"
REST = (
    "```python\n# expenses/report.py\ndef totals_by_category(rows):\n    return []\n```\n"
    "```python\n# expenses/__main__.py\nprint('total: 0')\n```\n"
    "```python\n# expenses/load.py\nBROKEN = True\n```\n"
)


def test_files_the_first_answer_left_out_are_asked_for_once_and_added(fakes) -> None:
    """Task 60's versions wrote `expenses/load.py` and stopped; the rest is asked for."""
    from agents.coder import missing_files, write_code
    from graphs.studio_context import Context
    from graphs.studio_state import State

    contract = read_contract(EXPENSES)
    assert missing_files({"expenses/load.py": "def read_expenses(path): ..."}, contract) == [
        "expenses/report.py",
        "expenses/__main__.py",
    ]
    fake = fakes(coder=[LOAD, REST])
    files, usage = write_code(State(task=EXPENSES, contract=contract), Context())
    assert sorted(files) == ["expenses/__main__.py", "expenses/load.py", "expenses/report.py"]
    assert "BROKEN" not in files["expenses/load.py"]  # a file written first is kept
    assert fake.calls == ["coder", "coder"] and len(usage) == 2
    assert fake.options[1]["num_predict"] == 2 * 640  # a budget for the two files left out
    # Its time: the Coder's for 1,024 tokens, scaled once to the budget (not twice).
    assert fake.options[1]["client_kwargs"]["timeout"] == Context().coder_seconds * 1280 / 1024
    # A fix sends only what it changes: nothing more is asked for.
    fix = State(task=EXPENSES, contract=contract, files=files, feedback="x", feedback_kind="tests")
    write_code(fix, Context(), fix=True)
    assert fake.calls == ["coder"] * 3


def test_the_follow_up_goes_on_from_the_first_answer_in_the_same_conversation(
    fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agents.coder as coder
    from graphs.studio_context import Context
    from graphs.studio_state import State

    sent: list[list[Any]] = []
    real = coder.ask_text

    def recording(agent: str, config: Any, messages: Any, *rest: Any, **options: Any) -> Any:
        sent.append(list(messages))
        return real(agent, config, messages, *rest, **options)

    monkeypatch.setattr(coder, "ask_text", recording)
    fakes(coder=[LOAD, REST])
    coder.write_code(State(task=EXPENSES, contract=read_contract(EXPENSES)), Context())
    first, follow = sent
    # The whole first conversation again (the server's prefix cache keeps it evaluated),
    # then the model's own answer, then the ask for the files it left out.
    assert follow[: len(first)] == first and len(follow) == len(first) + 2
    assert follow[-2].type == "ai" and follow[-2].content == LOAD
    assert follow[-1].type == "human"
    assert "expenses/report.py" in follow[-1].content
    assert "expenses/__main__.py" in follow[-1].content
    assert "expenses/load.py" not in follow[-1].content


def test_a_follow_up_that_fails_or_rewrites_keeps_the_first_files(fakes) -> None:
    from agents.coder import write_code
    from graphs.studio_context import Context
    from graphs.studio_state import State

    contract = read_contract(EXPENSES)
    stopped = ollama.ResponseError("the request ran past its timeout of 600s", -1)
    fakes(coder=[LOAD, stopped])
    files, usage = write_code(State(task=EXPENSES, contract=contract), Context())
    assert list(files) == ["expenses/load.py"] and len(usage) == 1
    # Only the missing files are taken: a bare rewrite of load.py is no __main__.py.
    stray = "```python\n# load.py\ndef read_expenses(p):\n    return [1]\n```\n"
    report = "```python\n# report.py\ndef totals_by_category(rows):\n    return []\n```\n"
    fakes(coder=[LOAD, stray + report])
    files, _ = write_code(State(task=EXPENSES, contract=contract), Context())
    assert sorted(files) == ["expenses/load.py", "expenses/report.py"]
    assert "[1]" not in files["expenses/load.py"]


def test_what_the_tidy_steps_mend_is_not_missing() -> None:
    from agents.coder import missing_files

    contract = read_contract(EXPENSES)
    # Bare modules move to the task's paths; one module holding every name is split.
    bare = {"load.py": "def read_expenses(p): ...", "report.py": "", "__main__.py": ""}
    assert missing_files(bare, contract) == []
    one = {"solution.py": "def read_expenses(p): ...\ndef totals_by_category(r): ...\n"}
    assert missing_files(one, contract) == ["expenses/__main__.py"]
    # A name defined in another of the task's files, or in a test, is not in its own.
    wrong = {
        "expenses/load.py": one["solution.py"],
        "tests/test_x.py": "def totals_by_category(): ...",
    }
    assert missing_files(wrong, contract) == ["expenses/report.py", "expenses/__main__.py"]
    single = read_contract("Write `is_palindrome(text)` in `pal.py`.")
    assert missing_files({"solution.py": "def is_palindrome(text): ..."}, single) == []


DATEPARSE = """from __future__ import annotations

import re


def parse_date(text):
    day, month, year = re.split(r"[./-]", text)
    return int(year), int(month), int(day)


assert parse_date("05.12.2026") == (2026, 12, 5)
assert parse_date(
    "1-2-2003"
) == (2003, 2, 1)
print(parse_date("01/01/2000"))


def test_slashes():
    assert parse_date("01/01/2000") == (2000, 1, 1)
"""


def test_a_test_file_the_task_names_is_made_from_the_module_s_own_checks(tmp_path: Path) -> None:
    from terraqore.codecheck.code_tidy import demo_to_test_file, tidy_files

    task = "Write `parse_date(text)` in `dateparse.py`, with pytest tests in `test_dateparse.py`."
    wanted = read_contract(task)["files"]
    assert "test_dateparse.py" in wanted
    made, notes = demo_to_test_file({"dateparse.py": DATEPARSE}, wanted)
    assert notes == ["test_dateparse.py: made from 3 demo check(s)"]
    files, _ = tidy_files(made)
    assert "assert" not in files["dateparse.py"] and "print" not in files["dateparse.py"]
    test = files["test_dateparse.py"]
    assert "__future__" not in test and "def test_slashes" in test
    assert not check(files, read_contract(task))["broken"]
    for path, text in files.items():
        (tmp_path / path).write_text(text)
    _pytest_passes(tmp_path, "test_dateparse.py")
    # A wrong check of the module's own would now fail there, not at the module's import.
    assert "test_checks_from_the_module" in test


def test_no_test_file_is_made_when_one_exists_or_the_module_checks_nothing() -> None:
    from terraqore.codecheck.code_tidy import demo_to_test_file

    wanted = ["dateparse.py", "test_dateparse.py"]
    written = {"dateparse.py": DATEPARSE, "test_dateparse.py": "def test_x():\n    pass\n"}
    assert demo_to_test_file(written, wanted) == (written, [])
    bare = {"dateparse.py": "def parse_date(text):\n    return text\n"}
    assert demo_to_test_file(bare, wanted) == (bare, [])
    # Two test files missing: which check goes where is not known.
    assert demo_to_test_file({"dateparse.py": DATEPARSE}, [*wanted, "test_b.py"])[1] == []
