"""Usage statistics from the audit log: requests, tokens and latency per model and agent."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from terraqore.agent_models import AGENT_NAMESPACE


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
