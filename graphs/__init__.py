"""LangGraph graphs: the studio graph and the Q&A graph.

The studio graph runs Idea → Planner → Coder → Validator → Security.

Graphs wire agents and nodes together and hold no logic of their own.
"""
