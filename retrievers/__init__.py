"""Retrieval over the lake: FAISS (dense) fused with DuckDB full-text search (BM25)."""
