def dedupe(items, key=None):
    out, seen_hashable, seen_other = [], set(), []
    for item in items:
        k = key(item) if key else item
        try:
            if k in seen_hashable:
                continue
            seen_hashable.add(k)
        except TypeError:
            if k in seen_other:
                continue
            seen_other.append(k)
        out.append(item)
    return out
