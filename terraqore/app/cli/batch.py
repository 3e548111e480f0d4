"""`terraqore batch`: many requests answered in the background (OpenAI's Batch API).

The input is OpenAI's batch JSONL (one request per line, with a `custom_id`); the results
are its output JSONL. Batches run at low priority on the server and survive its restarts.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.table import Table
from typer.core import TyperGroup

from terraqore.app.cli.console import ProgressBars, out
from terraqore.app.cli.support import cli_errors, fail
from terraqore.client.server_process import ensure_server
from terraqore.client.settings import Settings


class _FileOrCommand(TyperGroup):
    """`terraqore batch FILE.jsonl [--wait]` is short for `terraqore batch submit FILE.jsonl`."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:  # typer's own click types
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["submit", *args]
        return super().resolve_command(ctx, args)


batch_app = typer.Typer(
    cls=_FileOrCommand,
    help="Batch jobs: a JSONL file of requests, answered in the background "
    "(`terraqore batch FILE.jsonl` submits it).",
    no_args_is_help=True,
)
FINISHED = ("completed", "failed", "cancelled", "expired")


def _http() -> httpx.Client:
    """A client for the server's `/v1`, starting the built-in server if none answers."""
    settings = Settings()
    handle = ensure_server(settings)
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    return httpx.Client(base_url=f"{handle.base_url}/v1", headers=headers, timeout=120)


def _ok(response: httpx.Response) -> Any:
    """The JSON of a successful response; otherwise the server's message and exit 1."""
    if response.status_code >= 400:
        try:
            body = response.json()
            error = body.get("error")
            message = error.get("message") if isinstance(error, dict) else error
        except ValueError:
            message = response.text[:300]
        fail(f"{message} (status {response.status_code})")
    kind = response.headers.get("content-type", "").split(";")[0].strip()
    return response.json() if kind == "application/json" else response


def _save_results(http: httpx.Client, batch: dict[str, Any], out_path: Path) -> None:
    for key, suffix in (("output_file_id", ""), ("error_file_id", ".errors")):
        if batch.get(key):
            target = out_path.with_name(out_path.name + suffix) if suffix else out_path
            target.write_bytes(_ok(http.get(f"/files/{batch[key]}/content")).content)
            out.print(f"{'errors' if suffix else 'results'}: {target}")


def _follow(http: httpx.Client, batch: dict[str, Any]) -> dict[str, Any]:
    """Poll a batch until it finishes, with a progress bar."""
    with ProgressBars(items=True) as bars:
        while batch["status"] not in FINISHED:
            counts = batch["request_counts"]
            bars(batch["id"], counts["completed"] + counts["failed"], counts["total"])
            time.sleep(1)
            batch = _ok(http.get(f"/batches/{batch['id']}"))
        counts = batch["request_counts"]
        bars(batch["id"], counts["completed"] + counts["failed"], counts["total"])
    return batch


@batch_app.command("submit")
@cli_errors
def submit(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="The batch JSONL."),
    endpoint: str = typer.Option("/v1/chat/completions", help="Or /v1/embeddings."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Follow it until it finishes."),
    out_path: Path | None = typer.Option(None, "--out", help="Where to write the results."),
) -> None:
    """Upload a batch file and run it; with --wait, follow it and save its results."""
    with _http() as http:
        upload = _ok(
            http.post(
                "/files", files={"file": (path.name, path.read_bytes())}, data={"purpose": "batch"}
            )
        )
        batch = _ok(
            http.post(
                "/batches",
                json={
                    "input_file_id": upload["id"],
                    "endpoint": endpoint,
                    "completion_window": "24h",
                },
            )
        )
        out.print(f"batch {batch['id']}: {batch['request_counts']['total']} requests")
        if not wait:
            return
        batch = _follow(http, batch)
        counts = batch["request_counts"]
        out.print(f"{batch['status']}: {counts['completed']} answered, {counts['failed']} failed")
        _save_results(http, batch, out_path or path.with_name(f"{path.stem}.results.jsonl"))


@batch_app.command("list")
@cli_errors
def list_batches() -> None:
    """Recent batches and their progress."""
    with _http() as http:
        batches = _ok(http.get("/batches", params={"limit": 50}))["data"]
    table = Table("id", "status", "endpoint", "done", "failed", "total")
    for b in batches:
        c = b["request_counts"]
        table.add_row(
            b["id"],
            b["status"],
            b["endpoint"],
            str(c["completed"]),
            str(c["failed"]),
            str(c["total"]),
        )
    out.print(table)


@batch_app.command("results")
@cli_errors
def results(
    batch_id: str,
    out_path: Path = typer.Option(Path("results.jsonl"), "--out", help="Where to write them."),
) -> None:
    """Save a batch's results (and errors, beside them) as they are now."""
    with _http() as http:
        _save_results(http, _ok(http.get(f"/batches/{batch_id}")), out_path)


@batch_app.command("cancel")
@cli_errors
def cancel(batch_id: str) -> None:
    """Stop a batch after the request in progress; what was answered is kept."""
    with _http() as http:
        batch = _ok(http.post(f"/batches/{batch_id}/cancel"))
    out.print(f"batch {batch_id}: {batch['status']}")
