"""Agents: the model-calling roles, one module each (its prompt, output schema and node).

Studio: idea, planner, coder, validator, security. Q&A: condense, decide, answer. Each has
its own model (see `modelfiles/`). Two helpers serve them all: `structured.py` (calling a
model with a JSON schema, and its usage records) and `studio_prompts.py` (the studio
prompts' shared sections).
"""
