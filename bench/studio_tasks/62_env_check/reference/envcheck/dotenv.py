"""The keys a dotenv file defines."""


def read_keys(path) -> list[str]:
    """Names defined by KEY=value or export KEY=value lines, in file order."""
    keys = []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            if line.startswith("export "):
                line = line[len("export ") :]
            key = line.split("=", 1)[0].strip()
            if key and key not in keys:
                keys.append(key)
    return keys
