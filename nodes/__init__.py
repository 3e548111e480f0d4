"""Graph nodes that are not agents: retrieval, search-and-ingest, routing."""
