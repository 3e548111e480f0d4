from solution import rle_decode, rle_encode


def test_encode():
    assert rle_encode("aaabcc") == "a3b1c2"
    assert rle_encode("abc") == "a1b1c1"


def test_long_runs():
    assert rle_encode("z" * 12) == "z12"
    assert rle_decode("a12b1") == "a" * 12 + "b"


def test_round_trip():
    for s in ("hello world", "aabbbcccc", "x"):
        assert rle_decode(rle_encode(s)) == s


def test_empty():
    assert rle_encode("") == ""
    assert rle_decode("") == ""
