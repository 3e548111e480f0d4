"""Typed GGUF metadata: what `/api/show` reports as `model_info` and `details`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from gguf import GGUFReader, GGUFValueType, LlamaFileType

# Arrays this long (vocabularies, merges) are reported as null, as Ollama does unless verbose.
_MAX_ARRAY = 64


def read_gguf(path: Path) -> tuple[dict[str, Any], int]:
    """Return (metadata, parameter count) of a GGUF file.

    Cached (reading costs ~2 s) by path together with the file's size, mtime and inode, so
    a file replaced at the same path is read again rather than shown with its old facts.
    """
    st = path.stat()
    return _read_gguf(path, st.st_size, st.st_mtime_ns, st.st_ino)


@lru_cache(maxsize=16)
def _read_gguf(path: Path, size: int, mtime_ns: int, inode: int) -> tuple[dict[str, Any], int]:
    reader = GGUFReader(str(path))
    meta: dict[str, Any] = {}
    for key, fld in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        if fld.types and fld.types[0] == GGUFValueType.ARRAY and len(fld.data) > _MAX_ARRAY:
            meta[key] = None
            continue
        try:
            meta[key] = fld.contents()
        except (ValueError, IndexError):
            meta[key] = None
    params = sum(int(t.n_elements) for t in reader.tensors)
    return meta, params


def model_info(path: Path) -> dict[str, Any]:
    """`model_info` for `/api/show`: the GGUF key-values plus `general.parameter_count`."""
    meta, params = read_gguf(path)
    info = {k: v for k, v in meta.items() if k != "tokenizer.chat_template"}
    info["general.parameter_count"] = params
    return dict(sorted(info.items()))


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def human_parameter_count(n: int) -> str:
    """`494.03M`, `1.54B`: the label Ollama shows as `parameter_size`."""
    if n >= 1_000_000_000:
        return f"{n / 1e9:.2f}B"
    return f"{n / 1e6:.2f}M"


def file_type_name(code: int | None) -> str:
    """`Q4_K_M` for llama.cpp's file type 15, and so on."""
    if code is None:
        return ""
    try:
        name = LlamaFileType(code).name
    except ValueError:
        return str(code)
    return name.removeprefix("MOSTLY_").removeprefix("ALL_")


def config_for(path: Path) -> dict[str, Any]:
    """The model config blob Ollama writes at create time, derived from the GGUF."""
    meta, params = read_gguf(path)
    family = str(meta.get("general.architecture") or "")
    return {
        "model_format": "gguf",
        "model_family": family,
        "model_families": [family] if family else [],
        "model_type": human_parameter_count(params),
        "file_type": file_type_name(meta.get("general.file_type")),
        "architecture": "amd64",
        "os": "linux",
        "context_length": int(meta.get(f"{family}.context_length") or 0),
        "has_chat_template": bool(meta.get("tokenizer.chat_template")),
        "template_has_tools": "tools" in str(meta.get("tokenizer.chat_template") or ""),
        # Kept with the model so /api/show need not re-read the GGUF (seconds for large files).
        "model_info": {k: _jsonable(v) for k, v in model_info(path).items()},
    }
