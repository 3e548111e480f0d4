"""Scripted fake chat models for the studio graph's offline tests (LangChain's FakeListChatModel)."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel

IDEA = json.dumps(
    {
        "title": "Adder",
        "summary": "A function add(a, b) that returns the sum of two numbers.",
        "users": "developers",
        "done_when": ["add(1, 2) == 3"],
        "assumptions": [],
    }
)
PLAN = json.dumps(
    {
        "files": [{"path": "solution.py", "purpose": "add(a, b)"}],
        "steps": ["Write add", "Test add"],
        "acceptance": ["add(1, 2) == 3"],
        "tests": ["add(1, 2) gives 3"],
    }
)
TESTS = json.dumps(
    {
        "tests": [
            {"name": "small", "code": "assert add(1, 2) == 3"},
            {"name": "zero", "code": "assert add(0, 0) == 0"},
            {"name": "broken", "code": "assert add(1,"},
        ]
    }
)
CLEAN = "```python\n# solution.py\ndef add(a, b):\n    return a + b\n```\n"
WRONG = CLEAN.replace("a + b", "a - b")
VULNERABLE = (
    "```python\n# solution.py\nimport subprocess\n\n\ndef add(a, b):\n"
    "    subprocess.call(f'echo {a}', shell=True)\n    return a + b\n```\n"
)
NO_FINDINGS = json.dumps({"findings": []})


class Raising(FakeListChatModel):
    """A chat model whose every call fails with `error` (a timeout, a refused connection)."""

    responses: list[str] = []
    error: BaseException

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        """Fail as the scripted error."""
        raise self.error


class Fakes:
    """Scripted answers per agent model; records every call."""

    def __init__(self, **answers: list[Any]) -> None:
        defaults = {
            "idea": [IDEA],
            "planner": [PLAN],
            "coder": [CLEAN],
            "validator": [TESTS],
            "security": [NO_FINDINGS],
        }
        self.answers = {**defaults, **answers}
        self.calls: list[str] = []
        self.configs: list[Any] = []
        self.options: list[dict[str, Any]] = []

    def model_for(self, config: Any, agent: str = "", **options: Any) -> FakeListChatModel:
        """The next scripted answer of the model's role (`terraqore/<role>`, or a route's model)."""
        role = config.model.split("/")[-1]
        self.calls.append(role)
        self.configs.append(config)
        self.options.append(options)
        answers = self.answers[role]
        answer = answers[min(self.calls.count(role) - 1, len(answers) - 1)]
        if isinstance(answer, BaseException):
            return Raising(error=answer)
        return FakeListChatModel(responses=[answer])
