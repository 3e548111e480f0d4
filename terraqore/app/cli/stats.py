"""`terraqore stats`: requests, tokens, latency, cost and savings per model, agent and task.

From the server's audit log (every request it served) and the app's usage log (every call the
app made, to any endpoint, with its cost).
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from terraqore.app.cli.console import out
from terraqore.app.cli.support import cli_errors
from terraqore.client import usage
from terraqore.client.agent_models import AGENT_NAMESPACE
from terraqore.client.router import RouterSettings


@dataclass
class Usage:
    """Totals for one model or agent."""

    requests: int = 0
    errors: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    eval_tokens: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, entry: dict[str, Any]) -> None:
        """Count one audit entry."""
        self.requests += 1
        self.errors += int(entry.get("status", 200)) >= 400
        self.cached += bool(entry.get("cached"))
        self.prompt_tokens += int(entry.get("prompt_tokens") or 0)
        self.eval_tokens += int(entry.get("eval_tokens") or 0)
        self.latencies_ms.append(float(entry.get("duration_ms") or 0))

    @property
    def p50_ms(self) -> float:
        """Median latency."""
        return statistics.median(self.latencies_ms) if self.latencies_ms else 0.0

    @property
    def p95_ms(self) -> float:
        """95th percentile latency."""
        if len(self.latencies_ms) < 2:
            return self.p50_ms
        return statistics.quantiles(self.latencies_ms, n=20)[-1]


def audit_entries(logs_dir: Path) -> list[dict[str, Any]]:
    """Entries of the audit log and its rotated files, oldest first; bad lines are skipped."""
    files = sorted(logs_dir.glob("audit.jsonl.*"), key=lambda p: -int(p.suffix[1:] or 0))
    files += [logs_dir / "audit.jsonl"]
    out = []
    for path in files:
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def usage_by_model(entries: list[dict[str, Any]]) -> tuple[dict[str, Usage], dict[str, Usage]]:
    """(per model, per agent) usage; agents are the `terraqore/<role>` models."""
    models: dict[str, Usage] = defaultdict(Usage)
    agents: dict[str, Usage] = defaultdict(Usage)
    for entry in entries:
        model = entry.get("model")
        if not model:
            continue
        models[model].add(entry)
        if model.startswith(f"{AGENT_NAMESPACE}/"):
            agents[model.split("/", 1)[1].split(":")[0]].add(entry)
    return dict(models), dict(agents)


@dataclass
class Spend:
    """Totals of the app's model calls for one task type, agent or model (the usage log)."""

    calls: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0
    cost: float = 0.0
    reference_cost: float = 0.0

    @property
    def saved(self) -> float:
        """What the reference model would have cost, less what these calls cost."""
        return self.reference_cost - self.cost


def spend_by(
    records: list[dict[str, Any]], key: str, reference: tuple[float, float]
) -> dict[str, Spend]:
    """Usage-log records summed by `key` (`task`, `agent`, `model` or `endpoint`).

    Savings are against a reference price: dollars per million input and output tokens.
    """
    out: dict[str, Spend] = defaultdict(Spend)
    for r in records:
        name = str(r.get(key) or "-")
        if key == "model":
            name = f"{r.get('endpoint', 'local')}:{r.get('model', '')}"
        s = out[name]
        prompt, output = int(r.get("prompt_tokens", 0)), int(r.get("output_tokens", 0))
        s.calls += 1
        s.failed += not r.get("ok", True)
        s.prompt_tokens += prompt
        s.output_tokens += output
        s.seconds += float(r.get("seconds", 0.0))
        s.cost += float(r.get("cost", 0.0))
        s.reference_cost += (prompt * reference[0] + output * reference[1]) / 1e6
    return dict(out)


def _table(name: str, headers: Sequence[str], names: Iterable[str]) -> Table:
    """A table whose first column (model, agent or task names) is never cut.

    Two models may differ only at the end of their names, so the name column is as wide as
    its longest name and does not wrap; on a narrow terminal the number columns give way
    (their headers wrap, and a number folds onto a second line rather than losing digits).
    """
    table = Table(box=None, pad_edge=False)
    table.add_column(name, no_wrap=True, min_width=max(map(len, names), default=len(name)))
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


@cli_errors
def stats() -> None:
    """Requests, tokens, latency, cost and savings per model, agent and task type.

    From the server's audit log (every request it served) and the app's usage log (every
    call the app made, through the router to any endpoint, with its cost).
    """
    settings = RouterSettings()
    entries = audit_entries(settings.logs_dir)
    models, agents = usage_by_model(entries)
    for title, rows in (("model", models), ("agent", agents)):
        out.print(f"[bold]Server requests by {title}[/]")
        table = _table(
            title.upper(),
            ("REQUESTS", "ERRORS", "CACHED", "PROMPT TOKENS", "OUTPUT TOKENS", "P50 MS", "P95 MS"),
            rows,
        )
        for name, u in sorted(rows.items()):
            table.add_row(
                name,
                str(u.requests),
                str(u.errors),
                str(u.cached),
                str(u.prompt_tokens),
                str(u.eval_tokens),
                f"{u.p50_ms:.0f}",
                f"{u.p95_ms:.0f}",
            )
        out.print(table)
        out.print()
    total = sum(u.prompt_tokens + u.eval_tokens for u in models.values())
    out.print(f"the server logged {len(entries)} requests, {total} tokens\n")
    calls = list(usage.records(settings.home))
    reference = (settings.reference_price_input, settings.reference_price_output)
    for key in ("task", "agent", "model"):
        out.print(f"[bold]App calls by {key}[/]")
        spent_by = spend_by(calls, key, reference)
        table = _table(
            key.upper(),
            ("CALLS", "FAILED", "PROMPT TOKENS", "OUTPUT TOKENS", "SECONDS", "COST $", "SAVED $"),
            spent_by,
        )
        for name, s in sorted(spent_by.items()):
            table.add_row(
                name,
                str(s.calls),
                str(s.failed),
                str(s.prompt_tokens),
                str(s.output_tokens),
                f"{s.seconds:.1f}",
                f"{s.cost:.4f}",
                f"{s.saved:.4f}",
            )
        out.print(table)
        out.print()
    spent = spend_by(calls, "endpoint", reference)
    cost = sum(s.cost for s in spent.values())
    saved = sum(s.saved for s in spent.values())
    out.print(
        f"{len(calls)} app calls cost ${cost:.4f}; against ${reference[0]:.2f} / "
        f"${reference[1]:.2f} per million input / output tokens, they saved ${saved:.4f}."
    )
