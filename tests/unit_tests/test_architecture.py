"""The drawn layers are the checked ones, and the newcomer's tour names modules that exist.

The README and docs/architecture.md draw the layers, one per line, top to bottom; the contract
`Layers point down` in pyproject.toml is what `make lint` enforces. These tests hold the two to
each other, so neither can move without the other.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DRAWINGS = [ROOT / "README.md", ROOT / "docs" / "architecture.md"]


def _diagram(doc: Path) -> list[list[str]]:
    """Each layer line's paths, top to bottom, from the fenced drawing of the layers."""
    text = doc.read_text(encoding="utf-8")
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M)
    block = next(b for b in blocks if "terraqore/app/cli/" in b)
    layers = []
    for line in block.splitlines():
        field = line.strip()
        if not field or not field[0].isalnum():
            continue  # the arrows between layers
        paths = re.split(r"\s{2,}", field)[0]
        layers.append([p.strip() for p in paths.split(", ")])
    return layers


def _expand(path: str) -> list[str]:
    """`graphs/{qa,studio}.py` and `graphs/*_state.py` as the files or folders they name."""
    braces = re.search(r"\{([^}]*)\}", path)
    if braces:
        options = braces.group(1).split(",")
        return [
            p
            for choice in options
            for p in _expand(path[: braces.start()] + choice + path[braces.end() :])
        ]
    if "*" in path:
        return sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(path))
    return [path.rstrip("/")]


def _module(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def _drawn_layers(doc: Path) -> list[set[str]]:
    return [{_module(p) for path in layer for p in _expand(path)} for layer in _diagram(doc)]


def _contract(name: str) -> list[set[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["name"] == name)
    return [{m.strip() for m in re.split(r"[|:]", layer)} for layer in contract["layers"]]


@pytest.mark.parametrize("doc", DRAWINGS, ids=lambda p: p.name)
def test_every_path_in_the_drawing_exists(doc: Path) -> None:
    for layer in _diagram(doc):
        for path in layer:
            found = _expand(path)
            assert found, f"{doc.name}: {path} names nothing"
            for p in found:
                assert (ROOT / p).exists(), f"{doc.name}: {p} does not exist"


@pytest.mark.parametrize("doc", DRAWINGS, ids=lambda p: p.name)
def test_every_top_level_package_in_the_drawing_exists(doc: Path) -> None:
    tops = {path.split("/")[0] for layer in _diagram(doc) for path in layer}
    assert tops == {"terraqore", "graphs", "agents", "nodes", "retrievers", "lake", "server"}
    for top in tops:
        assert (ROOT / top / "__init__.py").is_file(), f"{top} is not a package"


@pytest.mark.parametrize("doc", DRAWINGS, ids=lambda p: p.name)
def test_the_drawing_and_the_layer_contract_list_the_same_layers_in_order(doc: Path) -> None:
    assert _drawn_layers(doc) == _contract("Layers point down")


def test_the_two_drawings_are_the_same() -> None:
    assert _diagram(DRAWINGS[0]) == _diagram(DRAWINGS[1])


@pytest.mark.parametrize("doc", DRAWINGS, ids=lambda p: p.name)
def test_the_server_line_follows_the_servers_contract(doc: Path) -> None:
    server = next(line for line in doc.read_text().splitlines() if line.startswith("  server/"))
    rooms = re.findall(r"(\w+)/ →", server)
    contract = _contract("The server: api, runtime, models, then its leaves")
    inner = [next(iter(layer)).removeprefix("server.") for layer in contract[1:4]]
    assert rooms == inner == ["api", "runtime", "models"]


def _tour() -> str:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    return text[text.index("## A newcomer's tour") :].split("\n## ", 1)[0]


def test_the_tour_walks_a_build_and_an_ask_from_the_cli_to_llama_cpp() -> None:
    tour = _tour()
    build, ask = tour.split("### `terraqore ask")
    for walk, verb in ((build, "build"), (ask, "ask")):
        named = re.findall(r"`([\w/]+\.py)`", walk)
        assert named[0].startswith("terraqore/app/cli/"), f"the {verb} walk starts at {named[0]}"
        for module in ("server/runtime/scheduler.py", "server/runtime/engine_llama.py"):
            assert module in named, f"the {verb} walk skips {module}"
        assert "llama.cpp" in walk


def test_every_module_the_tour_names_exists() -> None:
    named = set(re.findall(r"`([\w/]+\.py)`", _tour()))
    assert len(named) > 30
    missing = [m for m in sorted(named) if not (ROOT / m).is_file()]
    assert not missing, missing


def test_no_package_in_the_contract_is_left_out_of_the_drawing() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    roots = set(config["tool"]["importlinter"]["root_packages"])
    drawn = {m.split(".")[0] for layer in _drawn_layers(DRAWINGS[0]) for m in layer}
    assert drawn == roots


def test_the_drawings_reader_expands_braces_and_globs() -> None:
    # A check of the reader itself, so that a drawing it misread cannot pass.
    assert _expand("graphs/{studio,qa}.py") == ["graphs/studio.py", "graphs/qa.py"]
    assert "graphs/qa_state.py" in _expand("graphs/*_state.py")
    assert _expand("lake/") == ["lake"]
