def parse_env(text: str) -> dict[str, str]:
    """Read the variables of a .env file."""
    env: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, value = line.split("=", 1)
        value = value.strip()
        if value[:1] in ("'", '"') and value.find(value[0], 1) > 0:
            value = value[1 : value.find(value[0], 1)]
        elif " #" in value:
            value = value[: value.index(" #")].rstrip()
        env[key.strip()] = value
    return env
