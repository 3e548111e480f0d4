"""The encrypted DuckDB database behind the lake.

DuckDB encrypts with AES when a database is attached with `ENCRYPTION_KEY`; writing
securely needs OpenSSL from the `httpfs` extension. Both `httpfs` and `fts` are loaded
from their PyPI packages (`duckdb-extension-*`, same version as DuckDB), and automatic
installation from the network is off: nothing is fetched at run time. What a query spills
to disk goes to `lake/tmp` (0700), encrypted too (`temp_file_encryption`), never to a
`.tmp` in the working directory; the lake's folder and files are private (0700/0600).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import secrets
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from lake.config import LakeSettings
from server.home import private_dir, private_file

EXTENSIONS = ("httpfs", "fts")
# How DuckDB says another connection holds the file (another process; or this one).
BUSY_MARKERS = ("could not set lock", "conflicting lock", "file handle conflict")
SCHEMA = Path(__file__).with_name("schema.sql")


class LakeError(RuntimeError):
    """The lake cannot be opened or used; the message says why and what to do."""


class LakeBusy(LakeError):
    """Another connection holds the lake for writing; try again shortly."""


def extension_path(name: str) -> Path:
    """The extension file shipped by `duckdb-extension-<name>` for this DuckDB version."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        raise LakeError(f"the DuckDB extension package duckdb-extension-{name} is not installed")
    base = Path(next(iter(spec.submodule_search_locations))) / "extensions"
    path = base / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        have = sorted(p.name for p in base.iterdir()) if base.is_dir() else []
        raise LakeError(
            f"duckdb-extension-{name} does not match DuckDB {duckdb.__version__} (it has {have}); "
            "install the same version as duckdb"
        )
    return path


def lake_key(settings: LakeSettings) -> str:
    """The key: `TERRAQORE_LAKE_KEY`, else the key file, created (mode 0600) on first use."""
    if settings.lake_key is not None:
        key = settings.lake_key.get_secret_value()
        if not key:
            raise LakeError("TERRAQORE_LAKE_KEY is set but empty")
        return key
    path = settings.key_path
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    if settings.db_path.exists():
        raise LakeError(
            f"the lake at {settings.db_path} exists but its key file {path} is missing; "
            "set TERRAQORE_LAKE_KEY or restore the key file"
        )
    private_dir(path.parent)
    # Written whole to a private temporary file, then linked into place: two processes that
    # open a new lake at once agree on one key (the loser of the link reads the winner's).
    fd, tmp = tempfile.mkstemp(prefix=".key-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return path.read_text(encoding="utf-8").strip()


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _engine(settings: LakeSettings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with httpfs and fts loaded from their packages, nothing autoloaded.

    Its temporary files (a query that outgrows memory spills) go to the lake's private
    `tmp` folder and are encrypted: they hold the lake's plaintext otherwise.
    """
    config: dict[str, Any] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "temp_directory": str(private_dir(settings.lake_dir / "tmp")),
        "temp_file_encryption": True,
    }
    con = duckdb.connect(config=config)
    for name in EXTENSIONS:
        con.execute(f"LOAD {_sql_literal(str(extension_path(name)))}")
    return con


def _attach(con: duckdb.DuckDBPyConnection, settings: LakeSettings, read_only: bool) -> None:
    key = lake_key(settings)
    private_dir(settings.lake_dir)
    mode = ", READ_ONLY" if read_only else ""
    try:
        con.execute(
            f"ATTACH {_sql_literal(str(settings.db_path))} AS lake "
            f"(ENCRYPTION_KEY {_sql_literal(key)}{mode})"
        )
    except duckdb.Error as exc:
        message = str(exc).replace(key, "***")  # the key never reaches a log
        lowered = message.lower()
        if any(marker in lowered for marker in BUSY_MARKERS):
            raise LakeBusy(
                f"the lake at {settings.db_path} is being written by another connection: {message}"
            ) from None
        if "key" in lowered or "encrypt" in lowered or "decrypt" in lowered:
            raise LakeError(
                f"cannot open the lake at {settings.db_path}: wrong encryption key "
                "(check TERRAQORE_LAKE_KEY or the key file)"
            ) from None
        raise LakeError(f"cannot open the lake at {settings.db_path}: {message}") from None
    con.execute("USE lake")
    for path in (settings.db_path, settings.db_path.with_name(settings.db_path.name + ".wal")):
        private_file(path)


def connect(settings: LakeSettings, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the encrypted lake; its tables are the default schema.

    Readers of this process let go of the lake first. While another process holds it,
    the open is retried for `settings.busy_timeout` seconds, then LakeBusy is raised.
    """
    if not read_only:
        for reader in list(_READERS):
            if reader.settings.db_path == settings.db_path:
                reader.release()
    con = _engine(settings)
    try:
        for attempt in Retrying(
            retry=retry_if_exception_type(LakeBusy),
            stop=stop_after_delay(settings.busy_timeout),
            wait=wait_exponential(multiplier=0.05, max=1.0),
            reraise=True,
        ):
            with attempt:
                _attach(con, settings, read_only)
    except BaseException:
        con.close()
        raise
    if not read_only:
        con.execute(SCHEMA.read_text(encoding="utf-8"))
    return con


class LakeReader:
    """Read-only sessions on the lake that hold it only while searches keep coming.

    The extensions load once. A session attaches the lake read-only, and the lake stays
    attached (its pages cached) until no session has run for `settings.reader_linger`
    seconds. So a reader that lives long (a retriever in a server) keeps no ingest from
    writing: a writer in this process makes it let go at once (see `connect`), and one
    in another process waits at most the linger time. Sessions are serialised.
    """

    def __init__(self, settings: LakeSettings) -> None:
        self.settings = settings
        self._con: duckdb.DuckDBPyConnection | None = None
        self._attached = False
        self._timer: threading.Timer | None = None
        self._last_used = 0.0
        self._lock = threading.RLock()
        self.memo: dict[str, Any] = {}
        """Facts about the attached lake (cleared on detach: nobody writes while attached)."""
        _READERS.add(self)

    @contextmanager
    def session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The lake, attached read-only, for the duration of the `with` block."""
        with self._lock:
            if self._con is None:
                self._con = _engine(self.settings)
            if not self._attached:
                _attach(self._con, self.settings, read_only=True)
                self._attached = True
            try:
                yield self._con
            finally:
                self._last_used = time.monotonic()
                if self.settings.reader_linger <= 0:
                    self.release()
                elif self._timer is None:
                    self._schedule(self.settings.reader_linger)

    def _schedule(self, delay: float) -> None:
        self._timer = threading.Timer(delay, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        """Detach once idle for the linger time; a busy reader is checked again later."""
        with self._lock:
            self._timer = None
            idle = time.monotonic() - self._last_used
            if idle >= self.settings.reader_linger:
                self.release()
            elif self._attached:
                self._schedule(self.settings.reader_linger - idle)

    def release(self) -> None:
        """Detach the lake now (after a session that is running ends)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._con is not None and self._attached:
                self._con.execute("USE memory")
                self._con.execute("DETACH lake")
                self._attached = False
                self.memo.clear()

    def close(self) -> None:
        """Detach the lake and release the in-memory engine."""
        with self._lock:
            self.release()
            if self._con is not None:
                self._con.close()
                self._con = None


_READERS: weakref.WeakSet[LakeReader] = weakref.WeakSet()


@atexit.register
def _close_readers() -> None:
    # A lingering reader's timer must not touch DuckDB while the interpreter shuts down.
    for reader in list(_READERS):
        reader.close()


def bulk_load(
    con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str], rows: list[tuple[Any, ...]]
) -> None:
    """Fill a fresh temporary table with rows, many per statement (row-at-a-time is slow)."""
    spec = ", ".join(f"{name} {kind}" for name, kind in columns.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({spec})")
    width = len(columns)
    step = max(1, 2000 // width)
    for start in range(0, len(rows), step):
        part = rows[start : start + step]
        marks = ", ".join(["(" + ", ".join(["?"] * width) + ")"] * len(part))
        con.execute(f"INSERT INTO {table} VALUES {marks}", [v for row in part for v in row])
