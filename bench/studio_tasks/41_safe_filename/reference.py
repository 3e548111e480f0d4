import re

_BAD = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}


def safe_filename(name: str, replacement: str = "_") -> str:
    r"""Make a string safe to use as a file name on Windows, macOS and Linux."""
    cleaned = _BAD.sub(replacement, name).strip(" ").rstrip(". ")
    if cleaned.split(".")[0].upper() in _RESERVED:
        cleaned = replacement + cleaned
    return cleaned or "untitled"
