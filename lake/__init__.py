"""The DuckDB data lake: encrypted at rest, bronze/silver/gold layers, guarded ingestion.

Knows nothing of LangGraph.
"""
