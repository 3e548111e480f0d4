def _is_prime(k):
    if k < 2:
        return False
    if k % 2 == 0:
        return k == 2
    f = 3
    while f * f <= k:
        if k % f == 0:
            return False
        f += 2
    return True


def next_prime(n):
    k = max(n + 1, 2)
    while not _is_prime(k):
        k += 1
    return k
