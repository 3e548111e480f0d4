"""Summaries of JSON-lines logs."""
