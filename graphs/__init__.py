"""LangGraph graphs: the studio, the Q&A and the ingest graph (the three in `langgraph.json`).

- `studio.py`: Idea → Planner → Coder → Validator → Security, with tests run in a sandbox.
- `qa.py`: a question in, a direct answer with checked `[n]` citations out.
- `ingest.py`: a path, URL or query into the lake, then the index.

Beside each graph file sit its state and context (`studio_state.py`, `studio_context.py`, ...),
and the shared pieces (`state.py`, `context.py`): a lower layer than the agents and nodes,
which import them. Graph files wire agents and nodes and hold only the routers. This file
imports nothing, so importing a state module does not load the graphs.
"""
