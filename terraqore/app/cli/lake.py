"""`terraqore lake …`: the data lake's commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.table import Table

from lake.config import LakeSettings
from retrievers.config import RetrievalSettings
from terraqore.app.cli.console import ProgressBars, err, out
from terraqore.app.cli.support import cli_errors, client, fail
from terraqore.client.settings import Settings

lake_app = typer.Typer(
    help="The data lake: ingest, index, search, inspect, schedule, digest.", no_args_is_help=True
)
INDEX_AFTER = typer.Option(
    True, "--index/--no-index", help="Update the retrieval index afterwards (embeds new chunks)."
)


def update_index(rebuild: bool = False) -> None:
    """Embed new chunks through the server and bring FAISS and BM25 up to date."""
    from retrievers.indexer import sync_index
    from retrievers.retriever import server_embedder

    settings = RetrievalSettings()
    embedder = server_embedder(settings.embedding_model)
    with ProgressBars(items=True) as bars:
        r = sync_index(LakeSettings(), settings, embedder, rebuild=rebuild, progress=bars)
    rebuilt = f"; rebuilt ({r.rebuilt})" if r.rebuilt else ""
    out.print(
        f"index: {r.chunks} chunks ({r.kind}, {r.model}); {r.embedded} embedded, "
        f"{r.added} added, {r.removed} removed{rebuilt}"
    )


@lake_app.command("ingest")
@cli_errors
def lake_ingest(
    source: str = typer.Argument(..., help='A path, a feed or page URL, or search:"query".'),
    topic: str | None = typer.Option(None, help="Topic to file the items under."),
    index: bool = INDEX_AFTER,
) -> None:
    """Ingest into bronze, promote new items to silver, then update the index."""
    from lake.local_files import IngestError
    from lake.operations import ingest

    try:
        with ProgressBars(items=True) as bars:
            report = ingest(LakeSettings(), source, topic, progress=bars)
    except IngestError as exc:
        fail(str(exc))
    b, s = report.bronze, report.silver
    dropped = ", ".join(f"{k} {v}" for k, v in sorted(s.dropped.items())) or "none"
    out.print(f"bronze: {b.added} new, {b.already_present} already present")
    out.print(f"silver: {s.promoted} items promoted as {s.chunks} chunks; dropped: {dropped}")
    for reason in report.skipped:
        err.print(f"[yellow]skipped:[/] {reason}", highlight=False)
    if index:
        update_index()


@lake_app.command("status")
@cli_errors
def lake_status(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Counts per layer and source, the newest item and the last errors."""
    from lake.operations import status

    info = status(LakeSettings())
    if as_json:
        sys.stdout.write(json.dumps(info, indent=2, default=str) + "\n")
        return
    out.print(f"lake: {info['path']}")
    out.print(
        f"bronze {info['bronze_items']} items {info['bronze_states']}, "
        f"silver {info['silver_chunks']} chunks, gold {info['gold_digests']} digests"
    )
    out.print(f"newest item: {info['latest_item'] or 'none'}")
    table = Table(
        "ID",
        "KIND",
        "SOURCE",
        "TOPIC",
        "ITEMS",
        "CHUNKS",
        "LAST RUN",
        "LAST ERROR",
        box=None,
        pad_edge=False,
    )
    for src in info["sources"]:
        table.add_row(
            str(src["id"]),
            src["kind"],
            src["uri"],
            src["topic"] or "",
            str(src["items"]),
            str(src["chunks"]),
            src["last_run"] or "",
            src["last_error"] or "",
        )
    out.print(table)


@lake_app.command("add-source")
@cli_errors
def lake_add_source(
    uri: str = typer.Argument(..., help='A path, a feed or page URL, or search:"query".'),
    topic: str | None = typer.Option(None, help="Topic to file the items under."),
    interval: int | None = typer.Option(None, help="Seconds between runs by `lake schedule`."),
    retention_days: int | None = typer.Option(None, help="Drop items older than this on prune."),
) -> None:
    """Register a source for `lake schedule`."""
    from lake.maintenance import add_source

    source_id = add_source(LakeSettings(), uri, topic, interval, retention_days)
    out.print(f"source {source_id}: {uri}")


@lake_app.command("schedule")
@cli_errors
def lake_schedule(index: bool = INDEX_AFTER) -> None:
    """Run every source whose interval has passed (call it from cron or a worker)."""
    from lake.maintenance import schedule

    report = schedule(LakeSettings())
    out.print(f"ran {len(report.ran)} source(s), {report.added} new item(s)")
    if index and report.added:
        update_index()
    for uri, error in report.failed.items():
        err.print(f"[red]failed[/] {uri}: {error}", highlight=False)
    if report.failed:
        raise typer.Exit(1)


@lake_app.command("prune")
@cli_errors
def lake_prune(index: bool = INDEX_AFTER) -> None:
    """Drop items older than their source's retention window (and from the index)."""
    from lake.maintenance import prune as prune_lake

    result = prune_lake(LakeSettings())
    out.print(f"pruned {result['items']} item(s), {result['chunks']} chunk(s)")
    if index and result["chunks"]:
        update_index()


@lake_app.command("export")
@cli_errors
def lake_export(
    directory: Path = typer.Argument(..., help="Folder for the Parquet files."),
) -> None:
    """Export every table to Parquet (the files are not encrypted)."""
    from lake.maintenance import export

    counts = export(LakeSettings(), directory)
    out.print(", ".join(f"{t}: {n}" for t, n in counts.items()))
    err.print(f"[yellow]note:[/] the Parquet files in {directory} are plaintext")


@lake_app.command("digest")
@cli_errors
def lake_digest(
    topic: str | None = typer.Option(None, help="Only this topic."),
    model: str | None = typer.Option(None, help="Model (default: the configured default)."),
) -> None:
    """Write gold digests per topic and day with the local model."""
    from lake.gold import write_digests

    c, _ = client()
    name = model or Settings().default_model
    for d in write_digests(LakeSettings(), c, name, topic):
        out.print(
            f"[bold]{d.topic or '(no topic)'} {d.period}[/] items {d.item_ids}\n{d.summary}\n"
        )


@lake_app.command("seed")
@cli_errors
def lake_seed(
    articles: int | None = typer.Option(
        None, help="Vital-article leads, spread over the corpus (default 1000; 0 takes all)."
    ),
    index: bool = INDEX_AFTER,
) -> None:
    """Load the default knowledge base: this project's docs and Wikipedia vital articles."""
    from lake.knowledge_base import DEFAULT_ARTICLES, seed

    with ProgressBars(items=True) as bars:
        count = DEFAULT_ARTICLES if articles is None else articles or None
        added, report = seed(LakeSettings(), articles=count, progress=bars)
    out.print(f"{added} new item(s); silver: {report.promoted} promoted as {report.chunks} chunks")
    if index:
        update_index()


@lake_app.command("index")
@cli_errors
def lake_index(
    rebuild: bool = typer.Option(False, "--rebuild", help="Rebuild FAISS from stored vectors."),
) -> None:
    """Embed new chunks and update the FAISS and BM25 indexes (run after ingest or prune)."""
    update_index(rebuild=rebuild)


@lake_app.command("search")
@cli_errors
def lake_search(
    query: str = typer.Argument(..., help="What to look for."),
    k: int = typer.Option(5, "-k", "--k", min=1, help="How many passages."),
    mode: str = typer.Option("hybrid", help="hybrid, dense or bm25."),
    kind: list[str] | None = typer.Option(None, help="Only sources of this kind (repeatable)."),
    topic: list[str] | None = typer.Option(None, help="Only this topic (repeatable)."),
    since: str | None = typer.Option(None, help="Published on or after (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, help="Published before (YYYY-MM-DD)."),
    mmr: bool = typer.Option(False, "--mmr", help="Diversify the results (MMR)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Search the lake (read-only): passages with their sources and scores."""
    from retrievers.hybrid import MODES
    from retrievers.retriever import lake_retriever

    if mode not in MODES:
        fail(f"--mode must be one of {', '.join(MODES)}")
    try:
        filters = {"kind": kind or None, "topic": topic or None, "since": since, "until": until}
        retriever = lake_retriever(k=k, mode=mode, filters=filters, mmr=mmr)  # type: ignore[arg-type]
    except ValidationError as exc:
        fail("bad filter: " + "; ".join(e["msg"] for e in exc.errors()))
    docs = retriever.invoke(query)
    if as_json:
        rows = [{**d.metadata, "text": d.page_content} for d in docs]
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    if not docs:
        out.print("no passages found")
    for n, d in enumerate(docs, start=1):
        meta = d.metadata
        out.print(f"[bold][{n}] {meta['title'] or '(untitled)'}[/]  score {meta['score']:.4f}")
        out.print(f"    {meta['source']}", style="dim")
        snippet = " ".join(d.page_content.split())
        out.print(f"    {snippet[:300]}{'…' if len(snippet) > 300 else ''}")
