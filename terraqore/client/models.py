"""The model factory: LangChain chat and embedding models bound to the configured server.

Every agent gets its model here, so the server address and context length are set
in one place. `num_ctx` is always passed explicitly: Ollama's own default is small
and silently truncates long prompts.
"""

from __future__ import annotations

from typing import Any

import ollama
from langchain_ollama import ChatOllama, OllamaEmbeddings

from terraqore.client.agent_models import AGENT_NAMESPACE, ensure_model
from terraqore.client.resilience import ResilientTransport, client_kwargs
from terraqore.client.server_process import ensure_server
from terraqore.client.settings import Settings
from terraqore.client.usage import Price, UsageRecorder


def _client(base_url: str, settings: Settings) -> ollama.Client:
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else None
    return ollama.Client(host=base_url, headers=headers, transport=ResilientTransport(settings))


ROLE_TASKS = {
    "idea": "plan",
    "planner": "plan",
    "coder": "code",
    "validator": "code",
    "security": "review",
    "answer": "answer",
}
"""The task type of each agent role, for the usage log and the router."""


def _recorder(settings: Settings, model: str, task: str, agent: str) -> UsageRecorder:
    return UsageRecorder(settings.home, task, agent, "local", model, Price())


def chat_model(
    name: str | None = None,
    settings: Settings | None = None,
    task: str = "chat",
    agent: str = "",
    **options: Any,
) -> ChatOllama:
    """A `ChatOllama` for a model on the configured server (started if needed).

    `options` are ChatOllama fields (`temperature`, `num_predict`, `format`, `seed`, …);
    `num_ctx` defaults to the configured context length. Each call is recorded in the usage
    log under `task` and `agent`.
    """
    settings = settings or Settings()
    handle = ensure_server(settings)
    model = name or settings.default_model
    ensure_model(_client(handle.base_url, settings), model, handle.base_url)
    if not model.startswith(f"{AGENT_NAMESPACE}/"):
        options.setdefault("num_ctx", settings.num_ctx)
    options["callbacks"] = [
        *(options.get("callbacks") or []),
        _recorder(settings, model, task, agent),
    ]
    return ChatOllama(model=model, base_url=handle.base_url, **client_kwargs(settings), **options)


def agent_model(role: str, settings: Settings | None = None, **options: Any) -> ChatOllama:
    """The chat model of an agent role (`idea`, `coder`, …), registered on first use.

    The role's Modelfile sets temperature and context; `options` override them per call
    site, and `num_ctx` is left to the Modelfile unless given.
    """
    model = f"{AGENT_NAMESPACE}/{role}"
    return chat_model(model, settings, ROLE_TASKS.get(role, "chat"), role, **options)


def ollama_client(settings: Settings | None = None) -> ollama.Client:
    """An `ollama.Client` for the configured server (started if needed), with retries."""
    settings = settings or Settings()
    return _client(ensure_server(settings).base_url, settings)


def embeddings(name: str | None = None, settings: Settings | None = None) -> OllamaEmbeddings:
    """`OllamaEmbeddings` for the configured embedding model."""
    settings = settings or Settings()
    handle = ensure_server(settings)
    return OllamaEmbeddings(
        model=name or settings.embedding_model, base_url=handle.base_url, **client_kwargs(settings)
    )
