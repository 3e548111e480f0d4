"""Local ingest of hostile files (issue 14, item 17, and its fuzzer).

A link that leads out of the folder is not followed, a JSON file of 200,000 nested `[` is
one clear error that skips the file, and generated files (malformed, huge, deeply nested,
wrongly encoded) never crash an ingest: every file that cannot be read is recorded as an
error and the good ones are still ingested.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lake.config import LakeSettings
from lake.database import connect
from lake.local_files import IngestError, RawItem, read_file
from lake.operations import ingest, status

GOOD = "# Lighthouse\n\n" + "The keeper climbs the tower and lights the lamp at dusk. " * 12


def lake(tmp_path: Path) -> LakeSettings:
    return LakeSettings(home=tmp_path / "home", lake_key="k" * 32)


def audit_errors(settings: LakeSettings) -> list[str]:
    con = connect(settings, read_only=True)
    try:
        rows = con.execute(
            "SELECT detail FROM audit WHERE action = 'error' ORDER BY time"
        ).fetchall()
        return [r[0] for r in rows]
    finally:
        con.close()


def test_links_out_of_the_folder_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "app.conf").write_text("db_password = hunter2hunter2\n" * 20)
    (outside / "notes.md").write_text("# Secret notes\n\n" + "private " * 100)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.md").write_text(GOOD)
    (docs / "readme.md").symlink_to(outside / "app.conf")
    (docs / "linked").symlink_to(outside, target_is_directory=True)
    settings = lake(tmp_path)
    report = ingest(settings, str(docs))
    assert report.bronze.added == 1
    assert any("readme.md" in s and "outside" in s for s in report.skipped)
    con = connect(settings, read_only=True)
    try:
        texts = " ".join(r[0] for r in con.execute("SELECT raw FROM bronze_items").fetchall())
    finally:
        con.close()
    assert "hunter2" not in texts and "Secret notes" not in texts
    assert any("readme.md" in e for e in audit_errors(settings))


def test_deeply_nested_json_is_one_clear_error_that_skips_the_file(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "deep.json").write_text("[" * 200_000)
    (docs / "deeper.jsonl").write_text('{"text": ' + "[" * 200_000 + "\n")
    (docs / "good.md").write_text(GOOD)
    settings = lake(tmp_path)
    report = ingest(settings, str(docs))
    assert report.bronze.added == 1 and len(report.skipped) == 2
    assert all("nested too deeply" in s for s in report.skipped)
    errors = status(settings)["errors"]
    assert errors and "2 file(s) skipped" in errors[0]["last_error"]
    # Named on its own, the same file is an error for the caller, and recorded too.
    with pytest.raises(IngestError, match="nested too deeply"):
        ingest(settings, str(docs / "deep.json"))
    assert any("deep.json" in e for e in audit_errors(settings))


# -- the fuzzer -------------------------------------------------------------------------------

DEEP = st.integers(1, 300_000).map(lambda n: "[" * n + "]" * (n % 3))
JSON_TEXT = st.one_of(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=200),
        lambda inner: (
            st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
        ),
        max_leaves=40,
    ).map(json.dumps),
    st.lists(
        st.fixed_dictionaries({"text": st.text(max_size=500), "title": st.text(max_size=50)}),
        max_size=5,
    ).map(json.dumps),
    DEEP,
    st.text(max_size=2000),
)
HTML_TEXT = st.one_of(
    st.integers(1, 50_000).map(
        lambda n: "<html><body>" + "<div>" * n + "text" + "</div>" * (n // 2)
    ),
    st.text(max_size=3000).map(
        lambda t: f"<html><body><article><p>{t}</p></article></body></html>"
    ),
    st.text(alphabet="<>/=\"' abcdiv&;#x", max_size=3000),
)
ENCODINGS = st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1252", "utf-8-sig"])


@st.composite
def hostile_file(draw: st.DrawFn) -> tuple[str, bytes]:
    suffix = draw(st.sampled_from([".json", ".jsonl", ".html", ".md", ".txt", ".pdf"]))
    if suffix in (".json", ".jsonl"):
        text = draw(JSON_TEXT)
    elif suffix == ".html":
        text = draw(HTML_TEXT)
    else:
        text = draw(st.text(max_size=5000))
    choice = draw(st.integers(0, 9))
    if choice == 0:
        data = draw(st.binary(max_size=4000))  # not text at all
    elif choice == 1:
        data = text.encode("utf-8") * draw(st.integers(1, 2000))  # big (up to some MB)
    else:
        data = text.encode(draw(ENCODINGS), errors="replace")
    return suffix, data


@settings(
    max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
@given(case=hostile_file())
def test_any_file_reads_or_fails_cleanly(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[str, bytes]
) -> None:
    suffix, data = case
    path = tmp_path_factory.mktemp("f") / f"file{suffix}"
    path.write_bytes(data)
    try:
        items = list(read_file(path))
    except IngestError as exc:
        assert str(path) in str(exc) or path.name in str(exc)
        return
    assert all(isinstance(i, RawItem) and isinstance(i.raw, str) for i in items)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(files=st.lists(hostile_file(), min_size=1, max_size=6))
def test_an_ingest_of_hostile_files_never_crashes_and_records_each_bad_one(
    tmp_path_factory: pytest.TempPathFactory, files: list[tuple[str, bytes]]
) -> None:
    root = tmp_path_factory.mktemp("ingest")
    docs = root / "docs"
    docs.mkdir()
    (docs / "good.md").write_text(GOOD)
    for i, (suffix, data) in enumerate(files):
        (docs / f"f{i}{suffix}").write_bytes(data)
    settings = lake(root)
    tracemalloc.start()
    try:
        report = ingest(settings, str(docs))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.bronze.added >= 1  # the good file, whatever the others are
    assert peak < 1024 * 1024 * 1024, f"peak Python allocations {peak / 2**20:.0f} MB"
    errors = audit_errors(settings)
    assert len(errors) == len(report.skipped)
    for reason in report.skipped:
        assert any(reason[:100] in e for e in errors)
