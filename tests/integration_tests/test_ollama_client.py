"""The unchanged `ollama` Python client against the built-in server."""

from __future__ import annotations

import math

import ollama
import pytest

from tests.server_harness import EMBED, TINY, RunningServer

OPTS = {"temperature": 0, "seed": 7, "num_predict": 24}


@pytest.fixture()
def client(server: RunningServer) -> ollama.Client:
    return ollama.Client(host=server.url)


def test_version_and_tags(client: ollama.Client, server: RunningServer) -> None:
    import httpx

    assert httpx.get(f"{server.url}/api/version").json()["version"].count(".") == 2
    assert httpx.head(f"{server.url}/").status_code == 200
    assert httpx.get(f"{server.url}/").text == "Ollama is running"
    names = {m.model for m in client.list().models}
    assert {"smollm2:135m", "qwen2.5-coder:0.5b", "all-minilm:latest"} <= names
    tiny = next(m for m in client.list().models if m.model == "smollm2:135m")
    assert tiny.size and tiny.size > 90_000_000
    assert tiny.details and tiny.details.format == "gguf" and tiny.details.family == "llama"
    assert tiny.digest and len(tiny.digest) == 64


def test_chat_non_streamed(client: ollama.Client) -> None:
    r = client.chat(model=TINY, messages=[{"role": "user", "content": "Say hello."}], options=OPTS)
    assert r.done and r.done_reason in {"stop", "length"}
    assert r.message.role == "assistant" and r.message.content.strip()
    assert r.prompt_eval_count and r.prompt_eval_count > 5
    assert r.eval_count and 0 < r.eval_count <= 24
    for field in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(getattr(r, field), int)
    assert r.total_duration and r.eval_duration and r.total_duration >= r.eval_duration


def test_chat_streamed(client: ollama.Client) -> None:
    chunks = list(
        client.chat(
            model=TINY,
            messages=[{"role": "user", "content": "Count to five."}],
            options=OPTS,
            stream=True,
        )
    )
    assert len(chunks) >= 3
    assert all(not c.done for c in chunks[:-1]) and chunks[-1].done
    text = "".join(c.message.content for c in chunks)
    assert text.strip()
    assert chunks[-1].eval_count == len(chunks) - 1 or chunks[-1].eval_count >= len(chunks) - 2


def test_generate_streamed_and_not(client: ollama.Client) -> None:
    whole = client.generate(model=TINY, prompt="The capital of France is", options=OPTS)
    parts = list(
        client.generate(model=TINY, prompt="The capital of France is", options=OPTS, stream=True)
    )
    assert whole.done and whole.response.strip()
    assert (
        parts[-1].done and "".join(p.response for p in parts) == whole.response
    )  # same seed, greedy


def test_num_predict_and_stop(client: ollama.Client) -> None:
    r = client.generate(
        model=TINY,
        prompt="List the numbers 1 to 50 separated by commas.",
        options={"temperature": 0, "num_predict": 5},
    )
    assert r.eval_count == 5 and r.done_reason == "length"
    r = client.generate(
        model=TINY,
        prompt="Write the word apple three times.",
        options={"temperature": 0, "num_predict": 40, "stop": ["apple"]},
    )
    assert "apple" not in r.response.lower() and r.done_reason == "stop"


def test_embed(client: ollama.Client) -> None:
    r = client.embed(
        model=EMBED,
        input=["the cat sat on the mat", "a cat was sitting on a mat", "quarterly revenue grew"],
    )
    vecs = r.embeddings
    assert len(vecs) == 3 and all(len(v) == 384 for v in vecs)
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-3) for v in vecs)

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cos(vecs[0], vecs[1]) > cos(vecs[0], vecs[2]) + 0.2
    assert r.prompt_eval_count and r.prompt_eval_count > 10
    short = client.embed(model=EMBED, input="hello", dimensions=64)
    assert len(short.embeddings[0]) == 64


def test_nomic_embed_text_gguf(client: ollama.Client) -> None:
    """The GGUF embedding option, carved out of a split zip at setup, runs in llama.cpp."""
    r = client.embed(
        model="nomic-embed-text",
        input=[
            "search_query: what do cats eat",
            "search_document: Cats are carnivores and eat meat such as fish and mice.",
            "search_document: The central bank raised interest rates again.",
        ],
    )
    q, good, bad = r.embeddings
    assert len(q) == 768 and math.isclose(sum(x * x for x in q), 1.0, rel_tol=1e-3)
    dot = lambda a, b: sum(x * y for x, y in zip(a, b, strict=True))  # noqa: E731
    assert dot(q, good) > dot(q, bad) + 0.1
    assert client.show("nomic-embed-text").capabilities == ["embedding"]


def test_legacy_embeddings(client: ollama.Client) -> None:
    r = client.embeddings(model=EMBED, prompt="hello world")
    assert len(r.embedding) == 384


def test_show(client: ollama.Client) -> None:
    s = client.show(TINY)
    assert s.modelinfo and s.modelinfo["general.architecture"] == "llama"
    assert s.modelinfo["llama.context_length"] == 8192
    assert s.details and s.details.quantization_level == "Q4_1"
    assert s.template and "im_start" in s.template
    assert s.capabilities == ["completion"]
    assert s.parameters and "stop" in s.parameters
    assert s.modelfile and "FROM" in s.modelfile
    qwen = client.show("qwen2.5-coder:0.5b")
    assert qwen.capabilities and "tools" in qwen.capabilities
    emb = client.show(EMBED)
    assert emb.capabilities == ["embedding"] and emb.modelinfo


def test_ps_lists_loaded_model(client: ollama.Client) -> None:
    client.generate(model=TINY, prompt="hi", options={"num_predict": 2})
    loaded = {m.model: m for m in client.ps().models}
    assert TINY in loaded
    assert loaded[TINY].context_length and loaded[TINY].context_length >= 256
    assert loaded[TINY].expires_at is not None


def test_unknown_model_is_404(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as info:
        client.chat(model="no-such-model:1b", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 404 and "not found" in info.value.error
