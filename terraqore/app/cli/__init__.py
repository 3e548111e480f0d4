"""The `terraqore` command line (typer + rich): the top layer, over the graphs and the client."""

from terraqore.app.cli.app import app

__all__ = ["app"]
