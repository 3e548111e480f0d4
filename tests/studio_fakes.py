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
VULNERABLE = (
    "```python\n# solution.py\nimport subprocess\n\n\ndef add(a, b):\n"
    "    subprocess.call(f'echo {a}', shell=True)\n    return a + b\n```\n"
)
NO_FINDINGS = json.dumps({"findings": []})


class Fakes:
    """Scripted answers per agent model; records every call."""

    def __init__(self, **answers: list[str]) -> None:
        defaults = {
            "idea": [IDEA],
            "planner": [PLAN],
            "coder": [CLEAN],
            "validator": [TESTS],
            "security": [NO_FINDINGS],
        }
        self.answers = {**defaults, **answers}
        self.calls: list[str] = []

    def model_for(self, config: Any, **options: Any) -> FakeListChatModel:
        role = config.model.split("/")[-1]
        self.calls.append(role)
        answers = self.answers[role]
        index = min(self.calls.count(role) - 1, len(answers) - 1)
        return FakeListChatModel(responses=[answers[index]])
