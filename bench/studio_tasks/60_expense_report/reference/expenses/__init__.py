"""Totals per category from a bank's CSV export."""
