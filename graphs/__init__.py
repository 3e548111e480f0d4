"""LangGraph graphs: the studio graph (Idea → Planner → Coder → Validator → Security) and the Q&A graph.

Graphs wire agents and nodes together and hold no logic of their own.
"""
