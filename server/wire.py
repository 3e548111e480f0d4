"""Request and response types on the wire, for Ollama's `/api/*` and OpenAI's `/v1/*`.

Requests are validated here; anything malformed becomes a 400 with a clear message.
Responses are plain dicts built by the routes, following Ollama's own contract, vendored in
`server/api/contract/ollama-openapi.yaml` (and fuzzed against by the contract test).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

KeepAlive = str | float | int | None


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())


# -- Ollama ------------------------------------------------------------------


class ToolFunctionCall(_Request):
    """A tool call: function name and arguments."""

    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)


class ToolCall(_Request):
    """One tool call on an assistant message."""

    function: ToolFunctionCall


class ChatMessage(_Request):
    """A chat message."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = ""
    images: list[str] | None = None
    tool_calls: list[ToolCall] | None = None
    tool_name: str | None = None
    thinking: str | None = None


class ToolDefinition(_Request):
    """A function tool the model may call."""

    type: Literal["function"] = "function"
    function: dict[str, Any]


class GenerateRequest(_Request):
    """`POST /api/generate`."""

    model: str
    prompt: str | None = None
    suffix: str | None = None
    system: str | None = None
    template: str | None = None
    images: list[str] | None = None
    format: str | dict[str, Any] | None = None
    stream: bool = True
    raw: bool = False
    think: bool | str | None = None
    keep_alive: KeepAlive = None
    options: dict[str, Any] | None = None


class ChatRequest(_Request):
    """`POST /api/chat`."""

    model: str
    messages: list[ChatMessage] = Field(default_factory=list)
    tools: list[ToolDefinition] | None = None
    format: str | dict[str, Any] | None = None
    stream: bool = True
    think: bool | str | None = None
    keep_alive: KeepAlive = None
    options: dict[str, Any] | None = None


class EmbedRequest(_Request):
    """`POST /api/embed`."""

    model: str
    input: str | list[str]
    truncate: bool = True
    dimensions: int | None = None
    keep_alive: KeepAlive = None
    options: dict[str, Any] | None = None


class LegacyEmbeddingsRequest(_Request):
    """`POST /api/embeddings` (deprecated; one prompt, one vector)."""

    model: str
    prompt: str = ""
    keep_alive: KeepAlive = None
    options: dict[str, Any] | None = None


class ShowRequest(_Request):
    """`POST /api/show`."""

    model: str = ""
    name: str = ""
    verbose: bool = False


class CreateRequest(_Request):
    """`POST /api/create` (the JSON form)."""

    model: str
    from_: str | None = Field(default=None, alias="from")
    files: dict[str, str] | None = None
    adapters: dict[str, str] | None = None
    template: str | None = None
    license: str | list[str] | None = None
    system: str | None = None
    parameters: dict[str, Any] | None = None
    messages: list[ChatMessage] | None = None
    quantize: str | None = None
    stream: bool = True


class CopyRequest(_Request):
    """`POST /api/copy`."""

    source: str
    destination: str


class ModelRequest(_Request):
    """`DELETE /api/delete`, `POST /api/pull`, `POST /api/push`."""

    model: str = ""
    name: str = ""
    insecure: bool = False
    stream: bool = True

    @property
    def target(self) -> str:
        """The model named by `model` (or the older `name`)."""
        return self.model or self.name


# -- OpenAI ------------------------------------------------------------------


class OAIMessage(_Request):
    """An OpenAI chat message; content may be a list of parts."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    name: str | None = None


class OAIStreamOptions(_Request):
    """`stream_options`."""

    include_usage: bool = False


class OAIChatRequest(_Request):
    """`POST /v1/chat/completions`."""

    model: str
    messages: list[OAIMessage]
    stream: bool = False
    stream_options: OAIStreamOptions | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    response_format: dict[str, Any] | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: str | dict[str, Any] | None = None


class OAICompletionRequest(_Request):
    """`POST /v1/completions`."""

    model: str
    prompt: str | list[str]
    stream: bool = False
    stream_options: OAIStreamOptions | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    suffix: str | None = None
    echo: bool = False


class OAIEmbeddingRequest(_Request):
    """`POST /v1/embeddings`."""

    model: str
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
