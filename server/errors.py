"""Errors the server reports to clients, each tied to its HTTP status."""

from __future__ import annotations


class ServerError(Exception):
    """Base class: an error with an HTTP status and a message safe to show the client."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ServerError):
    """The request is malformed or asks for something the model cannot do."""

    status_code = 400


class ModelNotFound(ServerError):
    """No model of that name is registered."""

    status_code = 404

    def __init__(self, name: str) -> None:
        super().__init__(f"model '{name}' not found")
        self.name = name


class NotFound(ServerError):
    """Something the request names does not exist (a file, a batch)."""

    status_code = 404


class RequestTimeout(ServerError):
    """A request ran longer than the server allows."""

    status_code = 504


class InsufficientMemory(ServerError):
    """A model that would not fit in the models' memory budget even with every other unloaded.

    500, as Ollama answers "model requires more system memory than is available": waiting
    would not help, so it is not a 503.
    """

    status_code = 500


class ServiceUnavailable(ServerError):
    """The server cannot take the request right now; the client may retry."""

    status_code = 503

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
