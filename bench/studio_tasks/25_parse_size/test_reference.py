import pytest
from solution import parse_size


def test_plain_bytes():
    assert parse_size("512") == 512
    assert parse_size("0") == 0
    assert parse_size("3 B") == 3


def test_decimal_units():
    assert parse_size("10MB") == 10_000_000
    assert parse_size("2 kB") == 2000
    assert parse_size("1tb") == 1_000_000_000_000


def test_binary_units_any_case():
    assert parse_size("1.5 KiB") == 1536
    assert parse_size("2 gib") == 2 * 1024**3
    assert parse_size("1MIB") == 1024**2


def test_fractions_round_down():
    assert parse_size("1.9 B") == 1
    assert parse_size("0.5 kb") == 500


@pytest.mark.parametrize("bad", ["", "MB", "ten MB", "5 XB", "1.2.3 MB", "-1 KB"])
def test_not_a_size(bad):
    with pytest.raises(ValueError):
        parse_size(bad)
