from solution import flatten


def test_nested():
    assert flatten([1, [2, [3, [4]]], (5, 6)]) == [1, 2, 3, 4, (5, 6)]


def test_empty_lists_vanish():
    assert flatten([[], [[]], 1]) == [1]
    assert flatten([]) == []


def test_strings_kept_whole():
    assert flatten(["ab", ["cd", ["ef"]]]) == ["ab", "cd", "ef"]


def test_deep():
    deep = [1]
    for _ in range(50):
        deep = [deep]
    assert flatten(deep) == [1]
