"""Typed GGUF metadata: what `/api/show` reports as `model_info` and `details`."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
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


# What `config_for` derives changes with this file, so its cached results are keyed by it too.
_DERIVATION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def config_for_blob(path: Path, digest: str, cache: Path | None) -> dict[str, Any]:
    """`config_for` of a stored weights blob, shared through a cache folder when one is set.

    Reading a GGUF's metadata with gguf-py costs about 10 s for a model with a 150k-token
    vocabulary (every array element becomes a field part). A blob is content-addressed, so its
    config, keyed by the blob's digest and this module's own hash, can never go stale: every
    fresh store that shares the cache (the test suite starts dozens of servers, each on a new
    home) reads it once per machine instead of once per store.
    """
    if cache is None:
        return config_for(path)
    cached = cache / f"config-{digest.replace(':', '-')}-{_DERIVATION}.json"
    with contextlib.suppress(OSError, ValueError):
        config: dict[str, Any] = json.loads(cached.read_text())
        return config
    config = config_for(path)
    with contextlib.suppress(OSError):
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f".partial-{os.getpid()}-{cached.name}"
        tmp.write_text(json.dumps(config, sort_keys=True))
        os.replace(tmp, cached)
    return config
