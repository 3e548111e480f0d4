def spiral_order(matrix):
    out = []
    m = [row[:] for row in matrix if row]
    while m:
        out += m.pop(0)
        m = [list(r) for r in zip(*m, strict=False)][::-1]
    return out
