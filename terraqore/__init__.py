"""TerraQore Studio's own packages, at two floors of the layers (see docs/architecture.md).

- `terraqore.app`: the top floor, the `terraqore` CLI and the web page; nothing imports it.
- `terraqore.client`: below the agents, how the project reaches a model server.
- `terraqore.codecheck`: below the nodes, the sandbox and the checks of generated code.

This file imports nothing, so importing one floor never loads another.
"""
