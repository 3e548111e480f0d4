import pytest
from solution import moving_average


def test_basic():
    assert moving_average([1, 2, 3, 4, 5], 2) == [1.5, 2.5, 3.5, 4.5]


def test_window_one_and_full():
    assert moving_average([4, 8], 1) == [4, 8]
    assert moving_average([1, 2, 3], 3) == [2]


def test_floats():
    assert moving_average([0.5, 1.5, 2.5], 2) == pytest.approx([1.0, 2.0])


def test_bad_window():
    with pytest.raises(ValueError):
        moving_average([1, 2], 0)
    with pytest.raises(ValueError):
        moving_average([1, 2], 3)
