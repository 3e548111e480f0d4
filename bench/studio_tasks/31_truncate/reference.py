def truncate(text: str, width: int, placeholder: str = "...") -> str:
    """Shorten text for a preview, cutting between words."""
    if len(text) <= width:
        return text
    best = ""
    for i, char in enumerate(text):
        if char == " ":
            kept = text[:i].rstrip(" ,;:.")
            if kept and len(kept) + len(placeholder) <= width:
                best = kept
            else:
                break
    if not best:
        return text[: width - len(placeholder)] + placeholder
    return best + placeholder
