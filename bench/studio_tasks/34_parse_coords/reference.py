import re

_SIGNED = re.compile(r"\s*([-+]?\d+(?:\.\d+)?)\s*,\s*([-+]?\d+(?:\.\d+)?)\s*")
_LETTERS = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([NSns])\s*,\s*(\d+(?:\.\d+)?)\s*([EWew])\s*")


def parse_coords(text: str) -> tuple[float, float]:
    """Parse a "latitude, longitude" pair as people paste it."""
    if match := _SIGNED.fullmatch(text):
        lat, lon = float(match.group(1)), float(match.group(2))
    elif match := _LETTERS.fullmatch(text):
        lat = float(match.group(1)) * (-1 if match.group(2).upper() == "S" else 1)
        lon = float(match.group(3)) * (-1 if match.group(4).upper() == "W" else 1)
    else:
        raise ValueError(f"not coordinates: {text!r}")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"out of range: {text!r}")
    return lat, lon
