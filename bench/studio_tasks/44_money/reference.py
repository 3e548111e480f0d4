def format_money(cents: int, symbol: str = "$") -> str:
    """Format an amount of cents with a currency symbol, for an invoice."""
    sign = "-" if cents < 0 else ""
    units, rest = divmod(abs(cents), 100)
    return f"{sign}{symbol}{units:,}.{rest:02d}"
