"""The task router: each task type has an ordered chain of endpoints and models to escalate along.

A chain starts with the agents' own local models. When a step fails (invalid output after
its retry, tests still failing after the allowed rounds, a timeout), the caller asks for the
next route. Remote endpoints join a chain only in online mode and only when allowed one by
one; offline, the chain stops at the last local model and the plan says what it skipped.
Every call is recorded with its tokens, seconds, cost, endpoint and task type
(`terraqore.client.usage`); local models cost $0.

The routing table lives in the config file, and the environment and the caller override it:

    [endpoints.lab]                      # another Ollama on the network
    url = "http://10.0.0.5:11434"
    allowed = true
    [endpoints.openai]                   # any OpenAI-compatible API
    url = "https://api.openai.com/v1"
    api = "openai"
    api_key_env = "OPENAI_API_KEY"
    price_input = 0.15                   # dollars per million tokens
    price_output = 0.60
    allowed = true
    [routes]
    code = ["local:terraqore/coder", "lab:qwen2.5-coder:7b", "openai:gpt-4o-mini"]
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from langchain_ollama import ChatOllama
from pydantic import BaseModel, Field

from terraqore.client.models import chat_model
from terraqore.client.resilience import Endpoint, client_kwargs
from terraqore.client.settings import Settings
from terraqore.client.usage import Price, UsageRecorder

TASKS = ("chat", "code", "plan", "review", "answer", "embed")
LOCAL = "local"
"""The endpoint name of the configured server (the built-in one unless told otherwise)."""


class EndpointConfig(BaseModel):
    """One endpoint of the routing table."""

    url: str
    api: Literal["ollama", "openai"] = "ollama"
    api_key_env: str = ""
    """The environment variable that holds the key (keys are never written in the file)."""
    price_input: float = 0.0
    price_output: float = 0.0
    allowed: bool = False
    """A remote endpoint is used only when this is set and online mode is on."""

    @property
    def is_loopback(self) -> bool:
        """Whether the endpoint is on this machine (then online mode is not needed)."""
        host = urlsplit(self.url).hostname or ""
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


class RouterSettings(Settings):
    """The routing table and the prices that `terraqore stats` compares against."""

    endpoints: dict[str, EndpointConfig] = Field(default_factory=dict)
    """Endpoints besides `local` (the configured server), by name: `url`, `api` (`ollama` or
    `openai`), `api_key_env`, `price_input` and `price_output` per million tokens, `allowed`."""

    routes: dict[str, list[str]] = Field(default_factory=dict)
    """Task type → chain of `endpoint:model`; unset task types use the agents' own models."""

    reference_price_input: float = 0.15
    """Dollars per million input tokens of the hosted model the savings are measured against."""

    reference_price_output: float = 0.60
    """Dollars per million output tokens of that reference model."""

    def default_chain(self, task: str) -> list[str]:
        """The agents' own local models for a task type."""
        model = {
            "chat": self.default_model,
            "code": "terraqore/coder",
            "plan": "terraqore/planner",
            "review": "terraqore/security",
            "answer": "terraqore/answer",
            "embed": self.embedding_model,
        }[task]
        return [f"{LOCAL}:{model}"]


@dataclass(frozen=True)
class Route:
    """One step of a chain: an endpoint and the model to ask it for."""

    endpoint: str
    model: str

    def __str__(self) -> str:
        return f"{self.endpoint}:{self.model}"


@dataclass
class Plan:
    """The routes a task may use, in order, and the ones left out (with why)."""

    task: str
    routes: list[Route]
    skipped: list[str] = field(default_factory=list)

    def after(self, route: Route) -> Route | None:
        """The route to escalate to after `route`, or None at the end of the chain."""
        i = self.routes.index(route) if route in self.routes else -1
        return self.routes[i + 1] if i + 1 < len(self.routes) else None

    def report(self) -> str:
        """The chain in words, with what was skipped."""
        text = " → ".join(str(r) for r in self.routes)
        return text + (f" (skipped: {'; '.join(self.skipped)})" if self.skipped else "")


class Router:
    """Plans chains and builds the chat model of each route, with its usage recorded."""

    def __init__(self, settings: RouterSettings | None = None) -> None:
        self.settings = settings or RouterSettings()

    def plan(self, task: str, first: str | None = None) -> Plan:
        """The chain for a task; `first` (a model on `local`) replaces the chain's first step."""
        if task not in TASKS:
            raise ValueError(f"unknown task type {task!r}; one of {', '.join(TASKS)}")
        chain = [
            _parse(s) for s in self.settings.routes.get(task) or self.settings.default_chain(task)
        ]
        if first:
            chain = [Route(LOCAL, first), *[r for r in chain[1:] if r.model != first]]
        plan = Plan(task, [])
        for route in chain:
            problem = self._unusable(route)
            if problem:
                plan.skipped.append(f"{route} ({problem})")
            else:
                plan.routes.append(route)
        if not plan.routes:
            raise ValueError(f"no usable route for {task!r}: {'; '.join(plan.skipped)}")
        return plan

    def _unusable(self, route: Route) -> str:
        if route.endpoint == LOCAL:
            return ""
        endpoint = self.settings.endpoints.get(route.endpoint)
        if endpoint is None:
            return "no such endpoint in the config"
        if endpoint.is_loopback:
            return ""
        if not self.settings.online:
            return "online mode is off"
        if not endpoint.allowed:
            return "endpoint not allowed (set allowed = true)"
        return ""

    def price(self, route: Route) -> Price:
        """What a route costs per million tokens ($0 on the local server)."""
        endpoint = self.settings.endpoints.get(route.endpoint)
        if endpoint is None:
            return Price()
        return Price(endpoint.price_input, endpoint.price_output)

    def chat_model(self, route: Route, task: str, agent: str = "", **options: Any) -> ChatOllama:
        """The chat model of a route; every call through it lands in the usage log."""
        if route.endpoint == LOCAL:
            return chat_model(route.model, self.settings, task=task, agent=agent, **options)
        config = self.settings.endpoints[route.endpoint]
        key = os.environ.get(config.api_key_env, "") if config.api_key_env else ""
        endpoint = Endpoint(config.url.rstrip("/"), config.api, key)
        recorder = UsageRecorder(
            self.settings.home, task, agent, route.endpoint, route.model, self.price(route)
        )
        # The client builds Ollama paths (`/api/chat`) on its base URL; the transport sends
        # them to the endpoint, translated to `/v1` for an OpenAI-compatible one.
        parts = urlsplit(endpoint.url)
        return ChatOllama(
            model=route.model,
            base_url=f"{parts.scheme}://{parts.netloc}",
            callbacks=[recorder],
            **client_kwargs(self.settings, [endpoint]),
            **options,
        )


def _parse(text: str) -> Route:
    endpoint, sep, model = text.partition(":")
    if not sep or not endpoint or not model:
        raise ValueError(f"a route is 'endpoint:model', not {text!r}")
    return Route(endpoint, model)
