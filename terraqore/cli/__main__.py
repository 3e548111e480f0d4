"""`python -m terraqore.cli`: the same as the `terraqore` command."""

from terraqore.cli import app

app()
