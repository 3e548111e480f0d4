import pytest
from solution import eval_rpn


def test_basic():
    assert eval_rpn("3 4 + 2 *") == 14
    assert eval_rpn("5 1 2 + 4 * + 3 -") == 14


def test_order_of_operands():
    assert eval_rpn("10 4 -") == 6
    assert eval_rpn("8 2 /") == 4


def test_negative_and_decimal():
    assert eval_rpn("-3 1.5 *") == pytest.approx(-4.5)


def test_malformed():
    for bad in ("1 +", "1 2", "2 x +", ""):
        with pytest.raises(ValueError):
            eval_rpn(bad)


def test_division_by_zero():
    with pytest.raises(ZeroDivisionError):
        eval_rpn("1 0 /")
