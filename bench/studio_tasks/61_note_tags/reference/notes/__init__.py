"""Hashtags in a folder of markdown notes."""
