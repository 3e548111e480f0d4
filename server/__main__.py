"""`python -m server [--host H] [--port P]`: run the built-in server in the foreground.

The server's own entry point, so that the app shell can start it without loading the CLI.
The address defaults to `TERRAQORE_OLLAMA_HOST`, else `OLLAMA_HOST`, else 127.0.0.1:11434.
"""

from __future__ import annotations

import argparse

from pydantic import ValidationError

from server.api.app import serve
from server.config import ServerSettings, configured_host, parse_host
from server.home import ConfigFileError


def main(argv: list[str] | None = None) -> None:
    """Parse the address and serve until interrupted."""
    _, default_host, default_port = parse_host(configured_host())
    parser = argparse.ArgumentParser(prog="python -m server", description=__doc__)
    parser.add_argument("--host", default=default_host, help="address to bind")
    parser.add_argument("--port", type=int, default=default_port, help="port to bind")
    args = parser.parse_args(argv)
    try:
        settings = ServerSettings()
    except (ConfigFileError, ValidationError) as exc:
        raise SystemExit(f"error: {exc}") from None
    serve(args.host, args.port, settings)


if __name__ == "__main__":
    main()
