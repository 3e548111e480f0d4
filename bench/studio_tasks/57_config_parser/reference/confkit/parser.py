"""Parse INI-style text strictly."""

import re

from confkit.errors import ConfigError

_SECTION = re.compile(r"\[([^\]]+)\]")


def parse(text: str) -> dict[str, dict[str, str]]:
    """Sections of key/value pairs; ConfigError on anything else."""
    config: dict[str, dict[str, str]] = {}
    current = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in ";#":
            continue
        if match := _SECTION.fullmatch(line):
            name = match.group(1).strip()
            if name in config:
                raise ConfigError(number, f"section [{name}] appears twice")
            current = config[name] = {}
        elif "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            if current is None:
                raise ConfigError(number, f"key {key!r} before any section")
            if not key:
                raise ConfigError(number, "a value without a key")
            if key.lower() in current:
                raise ConfigError(number, f"key {key!r} appears twice")
            current[key.lower()] = value
        else:
            raise ConfigError(number, f"cannot read {line!r}")
    return config
