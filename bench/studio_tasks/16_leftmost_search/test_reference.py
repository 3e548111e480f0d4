from solution import find_first


def test_found():
    assert find_first([1, 3, 5, 7], 5) == 2


def test_first_of_duplicates():
    assert find_first([1, 2, 2, 2, 3], 2) == 1
    assert find_first([4, 4, 4, 4], 4) == 0


def test_absent():
    assert find_first([1, 3, 5], 4) == -1
    assert find_first([], 1) == -1
    assert find_first([1, 3, 5], 9) == -1


def test_large():
    items = list(range(0, 2_000_000, 2))
    assert find_first(items, 1_000_000) == 500_000
