"""The `terraqore` command line (typer + rich)."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from server.config import parse_host
from terraqore.settings import Settings

app = typer.Typer(
    name="terraqore",
    help="TerraQore Studio: offline AI studio with a built-in Ollama-compatible server.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()

DEMO_PROMPT = "Write a Python function that checks whether a string is a palindrome. Be brief."


def fail(message: str, code: int = 1) -> None:
    """Print one clear error line and exit non-zero."""
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address to bind (default from OLLAMA_HOST)."),
    port: int | None = typer.Option(None, help="Port to bind (default 11434)."),
) -> None:
    """Run the built-in Ollama-compatible server in the foreground."""
    from server.app import serve as run_server

    _, default_host, default_port = parse_host(Settings().ollama_host)
    run_server(host or default_host, port or default_port)


@app.command()
def demo(
    prompt: str = typer.Argument(DEMO_PROMPT, help="What to ask the default model."),
    model: str | None = typer.Option(None, help="Model name (default: the configured default)."),
) -> None:
    """Start the server if needed and stream an answer from the default model."""
    from terraqore.models import chat_model
    from terraqore.server_process import ServerStartError, ensure_server

    settings = Settings()
    try:
        handle = ensure_server(settings)
    except ServerStartError as exc:
        fail(str(exc))
    where = "started" if handle.started_here else "reusing"
    err.print(
        f"[dim]{where} server at {handle.base_url}; model {model or settings.default_model}[/]"
    )
    llm = chat_model(model, settings, temperature=0.2)
    try:
        for chunk in llm.stream(prompt):
            sys.stdout.write(str(chunk.content))
            sys.stdout.flush()
    except Exception as exc:  # one clear line, not a traceback
        fail(f"{type(exc).__name__}: {exc}")
    sys.stdout.write("\n")


if __name__ == "__main__":
    app()
