"""Test-only LangGraph config for the browser tests: the studio graph on scripted models."""
