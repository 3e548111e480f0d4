from __future__ import annotations

from pathlib import Path

import pytest

from server.errors import BadRequest
from server.modelfile import PARAMETER_TYPES, ModelfileError, parse_modelfile

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "modelfiles"
MALFORMED = sorted((CORPUS / "malformed").glob("*.Modelfile"))


def test_every_instruction() -> None:
    mf = parse_modelfile((CORPUS / "valid" / "every_instruction.Modelfile").read_text())
    assert mf.from_ == "smollm2:135m"
    assert mf.parameters == {
        "temperature": 0.3,
        "num_ctx": 2048,
        "stop": ["<|im_end|>", "END"],
        "penalize_newline": False,
        "seed": 42,
    }
    assert mf.template is not None and mf.template.startswith("{{- range .Messages }}")
    assert mf.system == "You are terse.\nYou answer in one line."
    assert mf.adapters == ["./lora.gguf"]
    assert mf.license == ["Apache-2.0", "second license"]
    assert mf.messages == [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
    ]
    assert mf.requires == "0.5.0"


def test_minimal_and_tabs() -> None:
    assert (
        parse_modelfile((CORPUS / "valid" / "minimal.Modelfile").read_text()).from_
        == "qwen2.5-coder:0.5b"
    )
    mf = parse_modelfile((CORPUS / "valid" / "tabs_and_blank_lines.Modelfile").read_text())
    assert mf.from_ == "./weights/model.gguf" and mf.system == "plain system text without quotes"
    assert mf.parameters == {"top_k": 20}


@pytest.mark.parametrize("path", MALFORMED, ids=[p.stem for p in MALFORMED])
def test_malformed_modelfiles_name_line_and_problem(path: Path) -> None:
    text = path.read_text()
    expected = text.splitlines()[0].removeprefix("# expect: ")
    with pytest.raises(BadRequest) as info:
        parse_modelfile(text)
    assert expected in info.value.message
    if expected.startswith("line"):
        assert isinstance(info.value, ModelfileError)


def test_every_documented_parameter_is_accepted() -> None:
    samples = {int: "3", float: "0.5", bool: "true", str: '"x"'}
    text = "FROM m\n" + "\n".join(f"PARAMETER {k} {samples[t]}" for k, t in PARAMETER_TYPES.items())
    assert set(parse_modelfile(text).parameters) == set(PARAMETER_TYPES)


def test_quoted_escapes_and_triple_quote_on_one_line() -> None:
    mf = parse_modelfile('FROM m\nSYSTEM "say \\"hi\\"\\nthen stop"\nTEMPLATE """{{ .Prompt }}"""')
    assert mf.system == 'say "hi"\nthen stop' and mf.template == "{{ .Prompt }}"
