"""Modelfiles: parsing the format Ollama users write (a leaf: the client reads them too).

Instructions (case-insensitive): FROM, PARAMETER, TEMPLATE, SYSTEM, ADAPTER, LICENSE,
MESSAGE, REQUIRES. Values may be bare, "quoted" or triple-quoted (three double quotes) across lines;
`#` starts a comment line. Every error names the line and the problem, and an unknown
PARAMETER is an error, as in Ollama.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from server.errors import BadRequest

INSTRUCTIONS = (
    "from",
    "parameter",
    "template",
    "system",
    "adapter",
    "license",
    "message",
    "requires",
)
MESSAGE_ROLES = ("system", "user", "assistant", "tool")

# Every parameter Ollama documents or accepts in `options`, with its type.
PARAMETER_TYPES: dict[str, type] = {
    "mirostat": int,
    "mirostat_eta": float,
    "mirostat_tau": float,
    "num_ctx": int,
    "num_batch": int,
    "num_gpu": int,
    "main_gpu": int,
    "num_thread": int,
    "num_keep": int,
    "num_predict": int,
    "repeat_last_n": int,
    "repeat_penalty": float,
    "presence_penalty": float,
    "frequency_penalty": float,
    "temperature": float,
    "seed": int,
    "stop": str,
    "tfs_z": float,
    "top_k": int,
    "top_p": float,
    "min_p": float,
    "typical_p": float,
    "penalize_newline": bool,
    "use_mmap": bool,
    "use_mlock": bool,
    "numa": bool,
    # Ours, not Ollama's: prompt-lookup speculative decoding (draft tokens per step, 0 = off).
    "prompt_lookup_tokens": int,
}


class ModelfileError(BadRequest):
    """A Modelfile that cannot be parsed; the message names the line."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"Modelfile line {line}: {problem}")
        self.line = line


@dataclass
class Modelfile:
    """A parsed Modelfile."""

    from_: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    template: str | None = None
    system: str | None = None
    adapters: list[str] = field(default_factory=list)
    license: list[str] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)
    requires: str | None = None


def convert_parameter(name: str, raw: Any) -> Any:
    """A PARAMETER value converted to its type; `ValueError` says why it cannot be."""
    kind = PARAMETER_TYPES.get(name)
    if kind is None:
        raise ValueError(f"unknown parameter {name!r}")
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise ValueError(f"parameter {name!r} expects true or false, got {raw!r}")
    if kind is str:
        return str(raw)
    try:
        if kind is int:
            number = float(raw)
            if not number.is_integer():
                raise ValueError
            return int(number)
        value = float(raw)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError
        return value
    except (TypeError, ValueError):
        word = "an integer" if kind is int else "a number"
        raise ValueError(f"parameter {name!r} expects {word}, got {raw!r}") from None


def _read_quoted(text: str, line: int) -> tuple[str, str]:
    """Parse a "..." string at the start of text; return (value, rest of the line)."""
    out, i, escapes = [], 1, {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(escapes.get(text[i + 1], "\\" + text[i + 1]))
            i += 2
            continue
        if c == '"':
            return "".join(out), text[i + 1 :]
        out.append(c)
        i += 1
    raise ModelfileError(line, "unterminated quoted string")


def _read_value(rest: str, lines: list[str], index: int, what: str) -> tuple[str, int]:
    """Read an instruction's value from `rest`, continuing onto later lines for triple quotes.

    Returns (value, index of the last line consumed).
    """
    line = index + 1
    text = rest.lstrip()
    if text.startswith('"""'):
        body = text[3:]
        if '"""' in body:
            value, _, tail = body.partition('"""')
            if tail.strip():
                raise ModelfileError(line, f'unexpected text after closing """: {tail.strip()!r}')
            return value, index
        parts = [body]
        for j in range(index + 1, len(lines)):
            if '"""' in lines[j]:
                last, _, tail = lines[j].partition('"""')
                if tail.strip():
                    raise ModelfileError(
                        j + 1, f'unexpected text after closing """: {tail.strip()!r}'
                    )
                parts.append(last)
                return "\n".join(parts), j
            parts.append(lines[j])
        raise ModelfileError(line, f'{what}: """ is never closed')
    if text.startswith('"'):
        value, tail = _read_quoted(text, line)
        if tail.strip():
            raise ModelfileError(line, f"unexpected text after closing quote: {tail.strip()!r}")
        return value, index
    if not text.strip():
        raise ModelfileError(line, f"{what} needs a value")
    return text.rstrip(), index


def _first_word(text: str) -> tuple[str, str]:
    """Split off the first word (spaces or tabs separate it); the rest may be empty."""
    parts = text.strip().split(None, 1)
    return (parts[0], parts[1]) if len(parts) == 2 else (parts[0] if parts else "", "")


def parse_modelfile(text: str) -> Modelfile:
    """Parse Modelfile text."""
    mf = Modelfile()
    lines = text.replace("\r\n", "\n").split("\n")
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        line = index + 1
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        word, rest = _first_word(stripped)
        instr = word.lower()
        if instr not in INSTRUCTIONS:
            raise ModelfileError(
                line,
                f"unknown instruction {word!r}; expected one of "
                + ", ".join(i.upper() for i in INSTRUCTIONS),
            )
        if instr == "parameter":
            name, value_text = _first_word(rest)
            name = name.lower()
            if not name:
                raise ModelfileError(line, "PARAMETER needs a name and a value")
            value, index = _read_value(value_text, lines, index, f"PARAMETER {name}")
            try:
                converted = convert_parameter(name, value)
            except ValueError as exc:
                raise ModelfileError(line, str(exc)) from None
            if name == "stop":
                mf.parameters.setdefault("stop", []).append(converted)
            else:
                mf.parameters[name] = converted
        elif instr == "message":
            role, value_text = _first_word(rest)
            if role.lower() not in MESSAGE_ROLES:
                raise ModelfileError(
                    line, f"MESSAGE role must be one of {', '.join(MESSAGE_ROLES)}, got {role!r}"
                )
            value, index = _read_value(value_text, lines, index, "MESSAGE")
            mf.messages.append({"role": role.lower(), "content": value})
        else:
            value, index = _read_value(rest, lines, index, instr.upper())
            if instr == "from":
                if mf.from_:
                    raise ModelfileError(line, "more than one FROM")
                mf.from_ = value.strip()
            elif instr == "template":
                mf.template = value
            elif instr == "system":
                mf.system = value
            elif instr == "adapter":
                mf.adapters.append(value.strip())
            elif instr == "license":
                mf.license.append(value)
            elif instr == "requires":
                if not re.fullmatch(r"v?\d+(\.\d+){0,2}", value.strip()):
                    raise ModelfileError(
                        line, f"REQUIRES expects a version such as 0.5.0, got {value!r}"
                    )
                mf.requires = value.strip()
        index += 1
    if not mf.from_:
        raise BadRequest("Modelfile has no FROM line")
    return mf


# -- values as a Modelfile writes them (`server.models.manifest.render_modelfile`) --


def quote_value(value: Any) -> str:
    """A value as a Modelfile writes it: strings JSON-quoted, booleans in lower case."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parameters_text(params: dict[str, Any]) -> str:
    """PARAMETERs as `/api/show` prints them: one `name value` line each, lists repeated."""
    rows = []
    for key, value in sorted(params.items()):
        for item in value if isinstance(value, list) else [value]:
            rows.append(f"{key:<30} {quote_value(item)}")
    return "\n".join(rows)
