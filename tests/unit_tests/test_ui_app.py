"""The page's custom app without a browser: its files, its guards, its routes, its config."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from urllib.parse import urljoin

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.testclient import TestClient

from server.security import origin_regex
from terraqore.app.ui.app import create_app
from terraqore.app.ui.guard import guards

ROOT = Path(__file__).resolve().parents[2]
LOCAL = "http://127.0.0.1:2024"
PAGE = f"{LOCAL}/terraqore/"
# Anything that names a host: a URL with a scheme of the network, or a protocol-relative one.
OUTSIDE = re.compile(r"""(?:https?|wss?|ftp):|(?<=["'(=\s])//[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+""")
REFERENCES = re.compile(
    r"""(?:src|href)\s*=\s*["']([^"']+)["']"""  # HTML
    r"""|^\s*(?:import|export)\s[^;"'()]*?\bfrom\s*["']([^"']+)["']"""  # ES module imports
    r"""|^\s*import\s*["']([^"']+)["']"""
    r"""|\bimport\(\s*["']([^"']+)["']"""  # dynamic imports
    r"""|url\(\s*["']?([^"')]+)""",  # CSS
    re.MULTILINE,
)


def client(keys: dict[str, str] | None = None, peer: str = "127.0.0.1") -> TestClient:
    return TestClient(create_app(keys or {}), base_url=LOCAL, client=(peer, 50000))


def crawl(c: TestClient) -> dict[str, str]:
    """Every file the page loads, by URL, following src, href, imports and CSS urls."""
    seen: dict[str, str] = {}
    todo = [PAGE]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        response = c.get(url)
        assert response.status_code == 200, url
        seen[url] = response.text
        for match in REFERENCES.finditer(response.text):
            ref = next(g for g in match.groups() if g)
            if ref.startswith(("data:", "#")):
                continue
            todo.append(urljoin(url, ref))
    return seen


def test_every_asset_is_local_and_served() -> None:
    files = crawl(client())
    names = {url.removeprefix(PAGE) for url in files}
    assert {"static/style.css", "static/js/main.js", "static/js/api.js"} <= names
    assert {"static/js/ask.js", "static/js/build.js", "static/js/lake.js"} <= names
    for url, text in files.items():
        assert url.startswith(PAGE), url
        found = OUTSIDE.findall(text)
        assert not found, f"{url} names a non-local address: {found}"


def test_the_scan_would_catch_an_outside_reference() -> None:
    for sample in (
        '<script src="https://cdn.example.com/x.js"></script>',
        "@import url(//fonts.example.org/css);",
        'import x from "http://127.0.0.1:9/x.js";',
    ):
        assert OUTSIDE.search(sample), sample


def test_page_responses_carry_a_strict_content_security_policy() -> None:
    response = client().get(PAGE)
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert client().get(f"{LOCAL}/terraqore", follow_redirects=False).status_code in (302, 307)


def test_every_control_on_the_page_has_a_label() -> None:
    html = client().get(PAGE).text
    labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', html))
    for tag, attrs in re.findall(r"<(input|textarea|select)\b([^>]*)>", html):
        ident = re.search(r'\bid="([^"]+)"', attrs)
        inside_label = re.search(rf"<label[^>]*>\s*<{tag}\b{re.escape(attrs)}>", html)
        assert "aria-label" in attrs or (ident and ident.group(1) in labelled) or inside_label, (
            f"<{tag}{attrs}> has no label"
        )
    for attrs, text in re.findall(r"<button\b([^>]*)>([^<]*)</button>", html):
        assert text.strip() or "aria-label" in attrs, f"<button{attrs}> has no name"


def test_without_keys_only_this_machine_is_served() -> None:
    assert client().get(PAGE).status_code == 200
    assert client(peer="192.0.2.7").get(PAGE).status_code == 403
    refused = client().get(PAGE, headers={"Host": "rebound.example.com"})
    assert refused.status_code == 403 and "not allowed" in refused.json()["error"]


def test_with_keys_any_peer_but_a_key_for_everything_but_the_page() -> None:
    c = client(keys={"ops": "s3cret"}, peer="192.0.2.7")
    assert c.get(PAGE).status_code == 200
    assert c.get(f"{PAGE}static/js/main.js").status_code == 200
    info = c.get(f"{PAGE}api/info").json()
    assert info["key_required"] is True
    assert c.get(f"{PAGE}api/lake").status_code == 401
    assert c.get(f"{LOCAL}/threads").status_code == 401  # the graph API's routes too
    authorised = c.get(f"{PAGE}api/lake", headers={"Authorization": "Bearer wrong"})
    assert authorised.status_code == 401


def test_lake_route_reports_a_missing_lake_without_creating_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERRAQORE_HOME", str(tmp_path))
    facts = client().get(f"{PAGE}api/lake").json()
    assert facts["exists"] is False and facts["sources"] == []
    assert not (tmp_path / "lake").exists()


def test_info_says_whether_online_mode_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERRAQORE_ONLINE", "0")
    assert client().get(f"{PAGE}api/info").json()["online_allowed"] is False
    monkeypatch.setenv("TERRAQORE_ONLINE", "1")
    assert client().get(f"{PAGE}api/info").json()["online_allowed"] is True


def test_langgraph_json_mounts_the_page_with_the_servers_cors_rules() -> None:
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["http"]["app"] == "terraqore.app.ui.app:app"
    assert config["http"]["cors"]["allow_origin_regex"] == origin_regex("")
    # Left out, langgraph-api fills in ["*"] and every site may read the replies.
    assert config["http"]["cors"]["allow_origins"] == []
    assert set(config["graphs"]) == {"studio", "qa", "ingest"}
    for target in config["graphs"].values():
        module, _, name = target.partition(":")
        assert importlib.util.find_spec(module) is not None and name == "graph"
    test_config = json.loads((ROOT / "tests" / "ui" / "langgraph.json").read_text())
    assert test_config["http"] == config["http"]
    assert {k: v for k, v in test_config["graphs"].items() if k != "studio"} == {
        k: v for k, v in config["graphs"].items() if k != "studio"
    }


def behind_a_cors_layer_that_grants_everyone(keys: dict[str, str]) -> TestClient:
    """The page's guards around what langgraph-api builds from a config without
    `allow_origins`: a CORS layer that grants every origin."""
    app = create_app(keys)
    inner = Starlette(
        routes=app.routes,
        middleware=[*guards(keys), Middleware(CORSMiddleware, allow_origins=["*"])],
    )
    inner.state.keys = keys
    return TestClient(inner, base_url=LOCAL, client=("127.0.0.1", 50000))


@pytest.mark.parametrize("keys", [{}, {"ops": "s3cret-0123456789"}])
def test_the_guards_withhold_cors_grants_from_foreign_origins(keys: dict[str, str]) -> None:
    c = behind_a_cors_layer_that_grants_everyone(keys)
    auth = {"Authorization": "Bearer s3cret-0123456789"} if keys else {}
    for origin in ("https://evil.example.com", "null", "http://127.0.0.1.evil.example"):
        for path in (f"{PAGE}api/lake", f"{PAGE}api/info", PAGE, f"{PAGE}static/js/main.js"):
            answer = c.get(path, headers={"Origin": origin, **auth})
            assert answer.status_code == 200, path
            grants = [h for h in answer.headers if h.startswith("access-control-allow")]
            assert not grants, (origin, path, grants)
        preflight = c.options(
            f"{PAGE}api/lake", headers={"Origin": origin, "Access-Control-Request-Method": "GET"}
        )
        assert "access-control-allow-origin" not in preflight.headers
    local = c.get(f"{PAGE}api/lake", headers={"Origin": "http://localhost:5173", **auth})
    assert local.headers["access-control-allow-origin"] == "*"


def test_another_site_cannot_drive_the_graphs_from_a_visitors_browser() -> None:
    c = client()
    foreign = c.post(
        f"{LOCAL}/threads",
        json={},
        headers={"Origin": "https://evil.example.com"},
    )
    assert foreign.status_code == 403 and "evil.example.com" in foreign.json()["error"]
    simple = c.post(
        f"{LOCAL}/threads",
        content=b"{}",
        headers={"Origin": LOCAL, "Content-Type": "text/plain"},
    )
    assert simple.status_code == 415
