def get_path(data: object, path: str, default: object = None) -> object:
    """Look up a value in parsed JSON by a dotted path such as "users.0.name"."""
    current = data
    for part in path.split(".") if path else []:
        if isinstance(current, dict):
            if part not in current:
                return default
            current = current[part]
        elif isinstance(current, list):
            try:
                current = current[int(part)]
            except (ValueError, IndexError):
                return default
        else:
            return default
    return current
