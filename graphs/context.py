"""Per-run configuration of the graphs, passed as LangGraph's `context_schema`.

Read inside a node as `runtime.context`. What the caller passes wins: the environment, then
the config file, only fill fields the caller left at their defaults, as in LangGraph's
templates (the same precedence as the settings classes). A field `k` reads `TERRAQORE_K`, or
`k` in `config.toml`; an agent's field `coder` reads `TERRAQORE_CODER_MODEL`,
`TERRAQORE_CODER_NUM_CTX`, `TERRAQORE_CODER_NUM_PREDICT` and `TERRAQORE_CODER_TEMPERATURE`, or
`coder_model`, `coder_num_ctx`, ... in the file.
"""

from __future__ import annotations

import os
import types
import typing
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from server.home import config_path, read_config_file

if TYPE_CHECKING:  # annotations only: reading a context loads no LangGraph
    from langchain_core.runnables import RunnableConfig
    from langgraph.pregel import Pregel
    from langgraph.runtime import Runtime


@dataclass(kw_only=True)
class AgentConfig:
    """How one agent calls its model. `None` leaves the value to the agent's Modelfile."""

    model: str
    """The model name, e.g. `terraqore/coder` (registered from `modelfiles/` on first use)."""

    endpoint: str = "local"
    """The router's endpoint that serves the model: `local` (the configured server) or one
    named in the routing table (`terraqore.client.router`)."""

    num_ctx: int | None = None
    """Context window in tokens."""

    num_predict: int | None = None
    """Cap on the tokens the agent may write per call."""

    temperature: float | None = None
    """Sampling temperature."""

    def options(self) -> dict[str, Any]:
        """The ChatOllama fields this config sets (unset ones are left to the Modelfile)."""
        values = {
            "num_ctx": self.num_ctx,
            "num_predict": self.num_predict,
            "temperature": self.temperature,
        }
        return {k: v for k, v in values.items() if v is not None}


def agent(model: str) -> Any:
    """A dataclass field whose default is an `AgentConfig` for `model`."""
    return field(default_factory=lambda: AgentConfig(model=model))


def _convert(raw: Any, hint: Any) -> Any:
    """An environment string or a config file value as the field's type.

    `int | None` is an int, and so on; a TOML value is already typed.
    """
    if not isinstance(raw, str):  # a TOML value is already typed
        return tuple(raw) if isinstance(raw, list) else raw
    kind = hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # `X | None` is an X
        kind = next(a for a in typing.get_args(hint) if a is not type(None))
    if kind is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind in (int, float):
        return kind(raw)
    if typing.get_origin(kind) is tuple:
        return tuple(s.strip() for s in raw.split(",") if s.strip())
    return raw


def config_file_values() -> dict[str, Any]:
    """The top-level keys of the config file; none when it does not exist.

    The file is `TERRAQORE_CONFIG`, else `config.toml` in the home. A malformed file is one
    clear error.
    """
    data = read_config_file(config_path())
    return {k: v for k, v in data.items() if not isinstance(v, dict)}


def fill_from_env(
    obj: Any,
    prefix: str = "TERRAQORE_",
    defaults: Any = None,
    file: dict[str, Any] | None = None,
) -> None:
    """Set each dataclass field still at its default from the environment, else the file.

    `<prefix><NAME>` when it is set, else the config file's key of that name without the
    project prefix, in lower case (`file`: its values, read once for nested configs).

    `defaults` is an instance holding the defaults, for dataclasses whose fields have none.
    """
    if file is None:
        file = config_file_values()
    hints = typing.get_type_hints(type(obj))
    for f in fields(obj):
        value = getattr(obj, f.name)
        if defaults is not None:
            default = getattr(defaults, f.name)
        elif callable(f.default_factory):
            default = f.default_factory()
        else:
            default = f.default
        if isinstance(value, AgentConfig):
            if value == default:
                fill_from_env(value, f"{prefix}{f.name.upper()}_", default, file)
            continue
        name = f"{prefix}{f.name.upper()}"
        raw = os.environ.get(name)
        if raw is None:
            raw = file.get(name.removeprefix("TERRAQORE_").lower())
        if raw is not None and value == default:
            setattr(obj, f.name, _convert(raw, hints[f.name]))


@dataclass(kw_only=True)
class RetrievalContext:
    """What the shared retrieval steps need; each graph's context extends it."""

    k: int = 5
    """Passages to retrieve."""

    retrieval_mode: str = "hybrid"
    """`hybrid`, `dense` or `bm25`."""

    online: bool = False
    """Online mode: only then may a weak retrieval be followed by a web search."""

    weak_below: float = 0.5
    """Retrieval counts as weak when its strength is below this (see `nodes.retrieve`)."""

    snippet_chars: int = 600
    """Longest snippet per source: the sentences of a passage the agents are shown."""

    relevance_floor: float | None = 0.0
    """Least cosine similarity of a passage to the query for it to be a source (0: none;
    None: the embedding model's measured floor, `retrievers.config.FLOOR_BY_MODEL`). A passage
    that was not among the dense candidates has none and is left out; `bm25` mode has no
    cosines, and no floor."""

    def __post_init__(self) -> None:
        fill_from_env(self)


def given(runtime: Runtime[Any]) -> Any:
    """The run's context, or a clear error when the caller passed none (see `run_on_defaults`).

    A graph's first node calls it, so `graph.invoke(inputs)` without `context=` says what to
    do instead of failing on `None` somewhere inside.
    """
    if runtime.context is None:
        raise ValueError(
            "this graph runs on a context: graph.invoke(inputs, context=Context()), or the"
            " graph module's run(inputs), which passes the defaults"
        )
    return runtime.context


def run_on_defaults(
    graph: Pregel[Any, Any, Any, Any],
    schema: typing.Callable[[], Any],
    inputs: Any,
    context: Any = None,
    config: RunnableConfig | None = None,
) -> dict[str, Any]:
    """`graph.invoke` on `context`, or on `schema()` (the defaults, environment and file filled in).

    LangGraph does not build a default from `context_schema`: without `context=`, `invoke`
    leaves `runtime.context` as `None`, and every node reads it. `langgraph dev` always passes
    one; each graph module's `run` is this call for Python code that wants the defaults.
    """
    return dict(graph.invoke(inputs, config, context=schema() if context is None else context))
