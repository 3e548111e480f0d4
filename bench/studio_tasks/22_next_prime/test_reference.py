from solution import next_prime


def test_small():
    assert next_prime(1) == 2
    assert next_prime(2) == 3
    assert next_prime(13) == 17


def test_negative():
    assert next_prime(-10) == 2


def test_large():
    assert next_prime(10_000_000) == 10_000_019
