def unique_name(name: str, existing: set[str]) -> str:
    """A file name that is not in `existing`."""
    if name not in existing:
        return name
    dot = name.rfind(".")
    stem, ext = (name[:dot], name[dot:]) if dot > 0 else (name, "")
    n = 2
    while f"{stem} ({n}){ext}" in existing:
        n += 1
    return f"{stem} ({n}){ext}"
