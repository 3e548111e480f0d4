"""The local web page: Ask, Build and Lake, served beside the graphs by `langgraph dev`.

`terraqore.app.ui.app:app` is `langgraph.json`'s custom HTTP app. The page (plain HTML, CSS and
ES modules in `static/`) talks to the graphs only through LangGraph's HTTP API; the app adds
the page, two small read-only routes (settings the page needs, the lake's sources) and the
guards that keep it on this machine unless API keys are configured. `terraqore ui` starts it.
"""
