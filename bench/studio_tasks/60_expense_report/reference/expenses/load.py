"""Read the CSV export."""

import csv


def read_expenses(path) -> list[dict]:
    """Rows with date, category and amount (float); rows without an amount are skipped."""
    with open(path, newline="", encoding="utf-8") as f:
        return [
            {"date": r["date"], "category": r["category"], "amount": float(r["amount"])}
            for r in csv.DictReader(f)
            if (r.get("amount") or "").strip()
        ]
