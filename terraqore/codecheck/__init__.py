"""Checking generated code: the sandbox, tidying, the task's contract and examples, probes.

A library below the nodes and agents that use it; it imports nothing of theirs.
"""
