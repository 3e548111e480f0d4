import bisect


def find_first(items, target):
    i = bisect.bisect_left(items, target)
    return i if i < len(items) and items[i] == target else -1
