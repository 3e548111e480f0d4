from solution import is_palindrome


def test_simple():
    assert is_palindrome("racecar")
    assert not is_palindrome("hello")


def test_ignores_case_and_punctuation():
    assert is_palindrome("A man, a plan, a canal: Panama!")
    assert is_palindrome("No 'x' in Nixon")


def test_digits_count():
    assert is_palindrome("12321")
    assert not is_palindrome("123 45")


def test_empty():
    assert is_palindrome("")
    assert is_palindrome("?!")
