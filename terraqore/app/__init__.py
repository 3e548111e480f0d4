"""The app, the top floor: the `terraqore` CLI (`cli/`) and the web page (`ui/`).

Nothing else in the project imports it (import-linter checks that).
"""
