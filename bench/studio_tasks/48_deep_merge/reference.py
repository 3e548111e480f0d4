import copy


def deep_merge(base: dict, override: dict) -> dict:
    """A new dict: nested dicts merged key by key, other values from override win."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
