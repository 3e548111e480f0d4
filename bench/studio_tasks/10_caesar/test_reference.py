from solution import caesar


def test_shift():
    assert caesar("abc", 1) == "bcd"
    assert caesar("xyz", 3) == "abc"


def test_case_and_others_kept():
    assert caesar("Hello, World!", 13) == "Uryyb, Jbeyq!"


def test_negative_and_large():
    assert caesar("bcd", -1) == "abc"
    assert caesar("abc", 27) == "bcd"


def test_round_trip():
    assert caesar(caesar("Attack at dawn 42", 7), -7) == "Attack at dawn 42"
