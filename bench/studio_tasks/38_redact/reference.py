import re

_SECRET = re.compile(
    r"(\w*(?:password|passwd|secret|token|api_key)\w*\s*[=:]\s*)[^\s,&]+", re.IGNORECASE
)


def redact(text: str) -> str:
    """Replace secret values in text by "***"."""
    return _SECRET.sub(r"\1***", text)
