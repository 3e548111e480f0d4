"""`/api/push` in online mode, against the local fake registry that pull also uses."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import ollama
import pytest

from tests.fake_registry import FakeRegistry
from tests.server_harness import TINY, RunningServer, start_server


@pytest.fixture(scope="module")
def online(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("push"), {"TERRAQORE_ONLINE": "1"})
    yield srv
    srv.stop()


@pytest.fixture()
def registry() -> Iterator[FakeRegistry]:
    reg = FakeRegistry()
    yield reg
    reg.close()


def test_push_then_pull_back(online: RunningServer, registry: FakeRegistry) -> None:
    c = ollama.Client(host=online.url)
    name = f"{registry.host}/test/tiny:v1"
    c.copy(TINY, name)
    statuses = list(c.push(name, insecure=True, stream=True))
    assert statuses[0].status == "retrieving manifest" and statuses[-1].status == "success"
    pushed = json.loads(registry.manifests["test/tiny:v1"])
    digests = [pushed["config"]["digest"], *(layer["digest"] for layer in pushed["layers"])]
    # Every blob arrived whole: the registry checked each one against its digest.
    assert sorted(registry.uploads) == sorted(digests)
    for digest in digests:
        blob = registry.blobs[digest]
        assert isinstance(blob, bytes) and "sha256:" + hashlib.sha256(blob).hexdigest() == digest
    assert any(
        s.digest == pushed["layers"][0]["digest"] and s.completed == s.total for s in statuses
    )
    # A second push sends no blob again (HEAD finds them), only the manifest.
    assert list(c.push(name, insecure=True, stream=True))[-1].status == "success"
    assert len(registry.uploads) == len(digests)
    # What was pushed pulls back and runs.
    c.delete(name)
    assert c.pull(name, insecure=True).status == "success"
    assert c.generate(model=name, prompt="Hi", options={"num_predict": 2}).done


def test_push_errors_are_clear(online: RunningServer, registry: FakeRegistry) -> None:
    c = ollama.Client(host=online.url)
    with pytest.raises(ollama.ResponseError) as info:
        c.push(f"{registry.host}/test/absent:v1", insecure=True)
    assert info.value.status_code == 404
    c.copy(TINY, "127.0.0.1:1/test/tiny:v1")
    with pytest.raises(ollama.ResponseError) as info:
        c.push("127.0.0.1:1/test/tiny:v1", insecure=True, stream=False)
    assert info.value.status_code == 400 and "cannot reach registry" in info.value.error
    assert online.alive()
