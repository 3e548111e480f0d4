"""langchain-ollama's ChatOllama and OllamaEmbeddings against the built-in server."""

from __future__ import annotations

from langchain_core.messages import AIMessageChunk
from langchain_core.tools import tool
from langchain_ollama import ChatOllama, OllamaEmbeddings
from pydantic import BaseModel, Field

from tests.server_harness import CHAT, EMBED, TINY, RunningServer


def test_invoke_and_stream(server: RunningServer) -> None:
    llm = ChatOllama(model=TINY, base_url=server.url, temperature=0, num_predict=20, num_ctx=2048)
    msg = llm.invoke("Name a colour.")
    assert isinstance(msg.content, str) and msg.content.strip()
    assert msg.usage_metadata and msg.usage_metadata["output_tokens"] > 0
    chunks = list(llm.stream("Name three animals."))
    assert len(chunks) > 2 and all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(str(c.content) for c in chunks).strip()


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"sunny in {city}"


def test_bind_tools_returns_structured_call(server: RunningServer) -> None:
    llm = ChatOllama(model=CHAT, base_url=server.url, temperature=0, seed=1, num_ctx=2048)
    msg = llm.bind_tools([get_weather]).invoke("What is the weather in Paris right now?")
    assert msg.tool_calls, f"no tool call in {msg!r}"
    call = msg.tool_calls[0]
    assert call["name"] == "get_weather"
    assert isinstance(call["args"], dict) and "paris" in str(call["args"].get("city", "")).lower()


def test_tool_call_streamed(server: RunningServer) -> None:
    llm = ChatOllama(model=CHAT, base_url=server.url, temperature=0, seed=1, num_ctx=2048)
    chunks = list(llm.bind_tools([get_weather]).stream("What is the weather in Oslo?"))
    calls = [tc for c in chunks for tc in c.tool_calls]
    assert calls and calls[0]["name"] == "get_weather"
    # While a tool call forms, its JSON is not streamed out as text.
    assert "<tool_call>" not in "".join(str(c.content) for c in chunks)


class Person(BaseModel):
    """A person."""

    name: str = Field(description="full name")
    age: int = Field(description="age in years")


def test_with_structured_output_json_schema(server: RunningServer) -> None:
    llm = ChatOllama(model=TINY, base_url=server.url, temperature=0.7, num_ctx=2048)
    structured = llm.with_structured_output(Person, method="json_schema")
    for _ in range(3):
        person = structured.invoke("Invent a person with a name and an age.")
        assert isinstance(person, Person) and isinstance(person.age, int)


def test_embeddings(server: RunningServer) -> None:
    emb = OllamaEmbeddings(model=EMBED, base_url=server.url)
    docs = emb.embed_documents(["alpha", "beta", "gamma"])
    assert len(docs) == 3 and all(len(v) == 384 for v in docs)
    q = emb.embed_query("alpha")
    assert len(q) == 384
    assert sum(a * b for a, b in zip(q, docs[0], strict=True)) > 0.99
