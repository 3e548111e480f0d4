"""Graph nodes that call no model: retrieval, ingestion, tests, checks, routing and reports.

Retrieval, search-and-ingest, ingestion, running the tests, bandit, escalation, plan
approval, citation checks and the report. They sit below the agents (which may use `sources`
and `verify`) and use the code-checking library below them (`terraqore.codecheck`).
"""
