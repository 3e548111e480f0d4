from solution import is_valid_ipv4


def test_valid():
    assert is_valid_ipv4("192.168.1.1")
    assert is_valid_ipv4("0.0.0.0")
    assert is_valid_ipv4("255.255.255.255")


def test_range():
    assert not is_valid_ipv4("256.1.1.1")


def test_leading_zero():
    assert not is_valid_ipv4("01.2.3.4")


def test_shape():
    assert not is_valid_ipv4("1.2.3")
    assert not is_valid_ipv4("1.2.3.4.5")
    assert not is_valid_ipv4("1..3.4")
    assert not is_valid_ipv4("")


def test_junk():
    assert not is_valid_ipv4(" 1.2.3.4")
    assert not is_valid_ipv4("1.2.3.-4")
    assert not is_valid_ipv4("a.b.c.d")
