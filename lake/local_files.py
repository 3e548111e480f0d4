"""Reading local files and folders into raw items: md, txt, html, pdf, json and jsonl.

Files are untrusted input. In a folder, a file that cannot be read (malformed, too large,
nested too deeply, a link that leads out of the folder) is one clear error that skips it,
reported to the caller; the others are still read. A single file named on its own raises.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from lake.bronze import RawItem

TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".json", ".jsonl"}
TEXT_FIELDS = ("text", "content", "body", "extract")
MAX_FILE_BYTES = 64 * 1024 * 1024
"""Files larger than this are skipped: a lake of notes and documents, not of dumps."""
OnError = Callable[[Path, str], None]


class IngestError(ValueError):
    """A file that cannot be read as what its name says; the message names it."""


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252: what local files usually are."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def html_to_item(html: str, url: str) -> RawItem | None:
    """The main text of a page (trafilatura), or None when it has none."""
    import trafilatura

    try:
        text = trafilatura.extract(
            html, include_comments=False, include_tables=True, favor_recall=True
        )
    except RecursionError:
        raise IngestError(f"{url or 'page'}: HTML nested too deeply to read") from None
    if not text:
        return None
    meta = trafilatura.extract_metadata(html)
    title = (meta.title if meta and meta.title else "") or ""
    published = _date(meta.date) if meta and meta.date else None
    return RawItem(url=url, title=title, raw=text, published=published, metadata={"format": "html"})


def _date(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _title_from_text(text: str, fallback: str) -> str:
    for line in text.splitlines():
        heading = re.match(r"^#{1,3}\s+(.+)", line.strip())
        if heading:
            return heading.group(1).strip()
    return fallback


def _records(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise IngestError(f"{path}: line {number} is not JSON: {exc.msg}") from None
                except RecursionError:
                    raise IngestError(f"{path}: line {number} is nested too deeply") from None
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise IngestError(f"{path}: JSON nested too deeply to read") from None
    for number, record in enumerate(data if isinstance(data, list) else [data], start=1):
        yield number, record


def read_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Iterator[RawItem]:
    """Items in one file (a JSON file may hold many); `IngestError` if it cannot be read."""
    suffix = path.suffix.lower()
    uri = str(path.resolve())
    size = path.stat().st_size
    if size > max_bytes:
        raise IngestError(f"{path}: {size} bytes, over the {max_bytes}-byte limit for one file")
    if suffix == ".pdf":
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            reader = PdfReader(path)
            text = "\n\n".join(page.extract_text() or "" for page in reader.pages)
        except (PdfReadError, ValueError, OSError) as exc:
            raise IngestError(f"{path}: not a readable PDF ({exc})") from None
        title = reader.metadata.title if reader.metadata and reader.metadata.title else path.stem
        if text.strip():
            yield RawItem(
                uri, str(title), text, metadata={"format": "pdf", "pages": len(reader.pages)}
            )
        return
    text = decode(path.read_bytes())
    if suffix in TEXT_SUFFIXES:
        if text.strip():
            yield RawItem(
                uri, _title_from_text(text, path.stem), text, metadata={"format": suffix[1:]}
            )
    elif suffix in HTML_SUFFIXES:
        item = html_to_item(text, uri)
        if item is not None:
            item.title = item.title or path.stem
            yield item
    elif suffix in (".json", ".jsonl"):
        for number, record in _records(path, text):
            if not isinstance(record, dict):
                raise IngestError(f"{path}: record {number} is not an object")
            body = next((record[f] for f in TEXT_FIELDS if isinstance(record.get(f), str)), None)
            if not body:
                raise IngestError(
                    f"{path}: record {number} has no text field ({', '.join(TEXT_FIELDS)})"
                )
            yield RawItem(
                url=str(record.get("url") or f"{uri}#{number}"),
                title=str(record.get("title") or f"{path.stem} {number}"),
                raw=body,
                published=_date(record.get("published") or record.get("date")),
                metadata={
                    "format": suffix[1:],
                    "record": number,
                    **{k: v for k, v in record.items() if k in ("topic", "description", "source")},
                },
            )
    else:
        raise IngestError(
            f"{path}: unsupported file type {suffix or '(none)'}; use {sorted(SUFFIXES)}"
        )


def read_path(
    path: Path, on_error: OnError | None = None, max_bytes: int = MAX_FILE_BYTES
) -> Iterator[RawItem]:
    """Items in a file, or in every supported file under a folder (sorted, hidden files skipped).

    In a folder, a file that cannot be read, or a link that leads outside the folder, is
    passed to `on_error` (path, reason) and skipped; without `on_error` it raises.
    """
    if not path.exists():
        raise IngestError(f"no such file or folder: {path}")
    if path.is_file():
        yield from read_file(path, max_bytes)
        return
    root = path.resolve()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES):
        if any(part.startswith(".") for part in file.relative_to(path).parts):
            continue
        try:
            if not file.resolve().is_relative_to(root):
                raise IngestError(f"{file}: a link that leads outside {path}; not followed")
            # Read the whole file first: one bad record skips the file, not half of it.
            items = list(read_file(file, max_bytes))
        except Exception as exc:  # untrusted input: any failure is this file's, reported
            if on_error is None:
                raise
            reason = str(exc) if isinstance(exc, IngestError) else f"{file}: {exc!r}"
            on_error(file, reason[:500])
            continue
        yield from items
