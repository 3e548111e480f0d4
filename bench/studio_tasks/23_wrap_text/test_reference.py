from solution import wrap


def test_greedy():
    assert wrap("the quick brown fox jumps", 10) == ["the quick", "brown fox", "jumps"]


def test_exact_width():
    assert wrap("aaa bbb", 7) == ["aaa bbb"]


def test_long_word():
    assert wrap("a supercalifragilistic b", 5) == ["a", "supercalifragilistic", "b"]


def test_whitespace():
    assert wrap("  one\n two\tthree ", 9) == ["one two", "three"]
    assert wrap("   ", 5) == []
