from solution import dedupe


def test_order_kept():
    assert dedupe([3, 1, 3, 2, 1]) == [3, 1, 2]


def test_key():
    assert dedupe(["a", "A", "b", "B", "a"], key=str.lower) == ["a", "b"]


def test_unhashable():
    assert dedupe([[1], [2], [1]]) == [[1], [2]]


def test_empty():
    assert dedupe([]) == []
