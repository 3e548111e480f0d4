from solution import format_money


def test_examples():
    assert format_money(123456) == "$1,234.56"
    assert format_money(-500) == "-$5.00"
    assert format_money(7, symbol="€") == "€0.07"


def test_zero_and_small():
    assert format_money(0) == "$0.00"
    assert format_money(99) == "$0.99"
    assert format_money(-1) == "-$0.01"


def test_large_amounts():
    assert format_money(100_000_000) == "$1,000,000.00"
    assert format_money(-123_456_789) == "-$1,234,567.89"
    assert format_money(100000, symbol="£") == "£1,000.00"
