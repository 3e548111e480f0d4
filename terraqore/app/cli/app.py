"""The `terraqore` command line: Ollama's verbs (typer + rich), plus `demo` and `models sync`.

Every verb except `serve` and `prune` talks to the server through Ollama's API, so
`--host` (or `OLLAMA_HOST`) can point it at a real Ollama as well.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import ollama
import typer
from rich.table import Table

from server.config import parse_host
from server.modelfile import parse_modelfile
from server.models.manifest import looks_like_path, name_for_file
from server.models.store import ModelStore
from terraqore.app.cli.ask import ask
from terraqore.app.cli.batch import batch_app
from terraqore.app.cli.build import build
from terraqore.app.cli.config import config_app
from terraqore.app.cli.console import ProgressBars, ago, err, human_size, modelfile_system, out
from terraqore.app.cli.demo import demo
from terraqore.app.cli.lake import lake_app
from terraqore.app.cli.setup import setup
from terraqore.app.cli.stats import stats
from terraqore.app.cli.support import cli_errors, client, fail
from terraqore.app.cli.ui import ui
from terraqore.client.agent_models import (
    create_arguments,
    ensure_model,
    models_in_use,
    normalise,
    sync,
    upload_blob,
)
from terraqore.client.settings import Settings

app = typer.Typer(
    name="terraqore",
    help="TerraQore Studio: offline AI studio with a built-in Ollama-compatible server.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Manage the agents' models (modelfiles/).", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(lake_app, name="lake")
app.command("ask")(ask)
app.command("build")(build)
app.add_typer(config_app, name="config")
app.add_typer(batch_app, name="batch")
app.command()(setup)
app.command()(stats)
app.command()(demo)
app.command("ui")(ui)

F = TypeVar("F", bound=Callable[..., Any])


@app.callback()
def main(
    host: str | None = typer.Option(
        None,
        "--host",
        help="Server address for client verbs (default: TERRAQORE_OLLAMA_HOST, "
        "OLLAMA_HOST, 127.0.0.1:11434).",
    ),
) -> None:
    """TerraQore Studio."""
    if host:
        os.environ["TERRAQORE_OLLAMA_HOST"] = host


# -- server --------------------------------------------------------------------


@app.command()
def serve(
    host: str | None = typer.Option(
        None, help="Address to bind (default from TERRAQORE_OLLAMA_HOST, then OLLAMA_HOST)."
    ),
    port: int | None = typer.Option(None, help="Port to bind (default 11434)."),
) -> None:
    """Run the built-in Ollama-compatible server in the foreground."""
    from server.api.app import serve as run_server

    _, default_host, default_port = parse_host(Settings().ollama_host)
    run_server(host or default_host, port or default_port)


# -- models --------------------------------------------------------------------


@app.command("list")
@cli_errors
def list_models() -> None:
    """List models."""
    c, _ = client()
    table = Table("NAME", "ID", "SIZE", "MODIFIED", box=None, pad_edge=False)
    for m in c.list().models:
        table.add_row(m.model or "", (m.digest or "")[:12], human_size(m.size), ago(m.modified_at))
    out.print(table)


@app.command()
@cli_errors
def ps() -> None:
    """List loaded models."""
    c, _ = client()
    table = Table("NAME", "ID", "SIZE", "CONTEXT", "UNTIL", box=None, pad_edge=False)
    for m in c.ps().models:
        until = m.expires_at
        left = "Forever" if until and until.year > 2300 else (until.isoformat() if until else "")
        table.add_row(
            m.model or "",
            (m.digest or "")[:12],
            human_size(m.size),
            str(getattr(m, "context_length", "") or ""),
            left,
        )
    out.print(table)


@app.command()
@cli_errors
def show(
    model: str,
    modelfile: bool = typer.Option(False, "--modelfile", help="Print the Modelfile."),
    parameters: bool = typer.Option(False, "--parameters", help="Print the parameters."),
    template: bool = typer.Option(False, "--template", help="Print the template."),
    system: bool = typer.Option(False, "--system", help="Print the system prompt."),
    license_: bool = typer.Option(False, "--license", help="Print the license."),
) -> None:
    """Show information about a model."""
    c, _ = client()
    info = c.show(model)
    raw = info.model_dump()
    for flag, key in (
        (modelfile, "modelfile"),
        (parameters, "parameters"),
        (template, "template"),
        (license_, "license"),
    ):
        if flag:
            out.print(raw.get(key) or "")
            return
    system_text = raw.get("system") or modelfile_system(info.modelfile or "")
    if system:
        out.print(system_text)
        return
    details = info.details
    mi = info.modelinfo or {}
    arch = str(mi.get("general.architecture", details.family if details else ""))
    out.print("  [bold]Model[/]")
    for label, value in (
        ("architecture", arch),
        ("parameters", details.parameter_size if details else ""),
        ("context length", mi.get(f"{arch}.context_length", "")),
        ("embedding length", mi.get(f"{arch}.embedding_length", "")),
        ("quantization", details.quantization_level if details else ""),
    ):
        out.print(f"    {label:<20}{value}")
    out.print("\n  [bold]Capabilities[/]")
    for cap in info.capabilities or []:
        out.print(f"    {cap}")
    if info.parameters:
        out.print("\n  [bold]Parameters[/]")
        for line in info.parameters.splitlines():
            out.print(f"    {line}")
    if system_text:
        out.print("\n  [bold]System[/]")
        out.print(f"    {system_text[:400]}")


@app.command()
@cli_errors
def pull(model: str) -> None:
    """Pull a model: a local GGUF file, a package-catalog model, or (online) from a registry.

    A local file is uploaded (`/api/blobs`, then `/api/create`), as Ollama's client does, so
    it works against any server, which never reads the client's disk.
    """
    c, base_url = client()
    with ProgressBars() as bars:
        if not looks_like_path(model):
            for p in c.pull(model, stream=True):
                bars(p.status or "", p.completed, p.total)
            return
        path = Path(model.removeprefix("file://")).expanduser()
        if not path.is_file():
            fail(f"no such file: {path}")
        digest = upload_blob(base_url, path, bars)
        name = name_for_file(path)
        for p in c.create(model=name, files={path.name: digest}, stream=True):
            bars(p.status or "", p.completed, p.total)
    out.print(f"success: {name}")


@app.command()
@cli_errors
def create(
    name: str,
    file: Path = typer.Option(Path("Modelfile"), "-f", "--file", help="The Modelfile."),
) -> None:
    """Create a model from a Modelfile."""
    if not file.is_file():
        fail(f"no Modelfile at {file}")
    mf = parse_modelfile(file.read_text(encoding="utf-8"))
    c, base_url = client()
    if mf.requires:
        have = httpx.get(f"{base_url}/api/version", timeout=10).json().get("version", "0")
        if _version(have) < _version(mf.requires):
            fail(f"this Modelfile requires version {mf.requires}; the server is {have}")
    with ProgressBars() as bars:
        args = create_arguments(mf, file.parent, base_url, bars)
        for p in c.create(model=name, stream=True, **args):
            bars(p.status or "", p.completed, p.total)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.lstrip("v").split(".") if x.isdigit())


@app.command()
@cli_errors
def cp(source: str, destination: str) -> None:
    """Copy a model (the copy shares its blobs)."""
    c, _ = client()
    c.copy(source, destination)
    out.print(f"copied '{source}' to '{destination}'")


@app.command()
@cli_errors
def rm(
    models: list[str],
    force: bool = typer.Option(False, "--force", help="Remove even if an agent uses it."),
) -> None:
    """Remove models. Refuses a model an agent's Modelfile uses, unless --force."""
    used = models_in_use()
    c, _ = client()
    for model in models:
        users = used.get(normalise(model), [])
        if users and not force:
            fail(f"'{model}' is used by {', '.join(users)} (modelfiles/); use --force to remove it")
        c.delete(model)
        out.print(f"deleted '{model}'")


@app.command()
@cli_errors
def stop(model: str) -> None:
    """Unload a running model."""
    c, _ = client()
    c.generate(model=model, prompt="", keep_alive=0)


@app.command()
@cli_errors
def prune(dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would go.")) -> None:
    """Remove blobs no model references from TerraQore's store, and say how much that frees."""
    store = ModelStore(Settings().home / "models")
    removed, freed = store.prune(dry_run=dry_run)
    verb = "would free" if dry_run else "freed"
    out.print(f"{len(removed)} unreferenced blob(s), {verb} {human_size(freed)}")


@app.command()
@cli_errors
def run(
    model: str,
    prompt: list[str] = typer.Argument(None, help="Prompt; without one, an interactive session."),
) -> None:
    """Run a model: answer a prompt, or chat interactively (/bye to leave)."""
    c, base_url = client()
    ensure_model(c, model, base_url)
    if prompt:
        _answer(c, model, [{"role": "user", "content": " ".join(prompt)}])
        return
    history: list[dict[str, str]] = []
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            err.print(">>> ", end="")
        line = sys.stdin.readline()
        if not line or line.strip() in ("/bye", "/exit"):
            break
        if not line.strip():
            continue
        history.append({"role": "user", "content": line.strip()})
        history.append({"role": "assistant", "content": _answer(c, model, history)})


def _answer(c: ollama.Client, model: str, messages: list[dict[str, str]]) -> str:
    parts = []
    for chunk in c.chat(model=model, messages=messages, stream=True):
        text = chunk.message.content or ""
        parts.append(text)
        sys.stdout.write(text)
        sys.stdout.flush()
    sys.stdout.write("\n\n" if not sys.stdout.isatty() else "\n")
    sys.stdout.flush()
    return "".join(parts)


@models_app.command("sync")
@cli_errors
def models_sync(
    names: list[str] = typer.Argument(None, help="Only these (e.g. terraqore/coder)."),
) -> None:
    """Register the agents' models from modelfiles/ (idempotent)."""
    c, base_url = client()
    with ProgressBars() as bars:
        digests = sync(c, base_url, names=names or None, progress=bars)
    for name, digest in digests.items():
        out.print(f"{name:<28} {digest[:12]}")
