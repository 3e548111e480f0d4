"""Rename the files of a folder to a prefix and a running number."""
