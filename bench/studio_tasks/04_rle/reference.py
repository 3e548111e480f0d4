import re


def rle_encode(s):
    out = []
    i = 0
    while i < len(s):
        j = i
        while j < len(s) and s[j] == s[i]:
            j += 1
        out.append(f"{s[i]}{j - i}")
        i = j
    return "".join(out)


def rle_decode(s):
    return "".join(c * int(n) for c, n in re.findall(r"(\D)(\d+)", s))
