"""What every CLI command shares: one-line errors, and a client for the configured server."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import ollama
import typer

from server.errors import ServerError
from terraqore.app.cli.console import err
from terraqore.client.server_process import ServerStartError, ensure_server
from terraqore.client.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
OWN_ERROR_PACKAGES = ("lake", "retrievers")


def fail(message: str, code: int = 1) -> None:
    """Print one clear error line and exit non-zero."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def cli_errors(fn: F) -> F:
    """Turn the errors a user can cause into one line and a non-zero exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ollama.ResponseError as exc:
            fail(f"{exc.error} (status {exc.status_code})")
        except (httpx.ConnectError, ConnectionError) as exc:
            fail(f"could not connect to the server at {Settings().base_url}: {exc}")
        except ServerStartError as exc:
            fail(str(exc))
        except ServerError as exc:
            fail(exc.message)
        except (ValueError, OSError) as exc:
            fail(str(exc))
        except RuntimeError as exc:
            # The lake's and retrieval's own errors (LakeError, IndexNotReady, …) carry
            # a message for the user; matched by package so that no command pays for
            # importing DuckDB or FAISS just to catch them.
            if type(exc).__module__.split(".")[0] not in OWN_ERROR_PACKAGES:
                raise
            fail(str(exc))

    return wrapper  # type: ignore[return-value]


def client() -> tuple[ollama.Client, str]:
    """A client for the configured server, starting the built-in one if none answers."""
    settings = Settings()
    handle = ensure_server(settings)
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else None
    return ollama.Client(host=handle.base_url, headers=headers), handle.base_url
