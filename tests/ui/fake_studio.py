"""The studio graph with the scripted agent models of `tests/studio_fakes.py`.

Only the browser tests' `langgraph dev` loads this (through `tests/ui/langgraph.json`), so
the page can run a whole studio task in seconds. The product graph is used unchanged: only
the studio agents' model factory is swapped, in this process; any other role (the Q&A
graph's answer model) still gets its real model.
"""

from __future__ import annotations

from typing import Any

import agents.structured
from graphs.studio import graph
from tests.studio_fakes import Fakes

__all__ = ["graph"]

fakes = Fakes()
_real_model_for = agents.structured.model_for


def _model_for(config: Any, *args: Any, **options: Any) -> Any:
    role = config.model.split("/")[-1]
    if role in fakes.answers:
        return fakes.model_for(config, *args, **options)
    return _real_model_for(config, *args, **options)


agents.structured.model_for = _model_for
