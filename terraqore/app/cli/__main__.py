"""`python -m terraqore.app.cli`: the same as the `terraqore` command."""

from terraqore.app.cli import app

app()
