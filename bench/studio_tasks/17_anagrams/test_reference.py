from solution import group_anagrams


def test_groups():
    words = ["eat", "tea", "tan", "ate", "nat", "bat"]
    assert group_anagrams(words) == [["ate", "eat", "tea"], ["bat"], ["nat", "tan"]]


def test_single_and_empty():
    assert group_anagrams(["x"]) == [["x"]]
    assert group_anagrams([]) == []


def test_duplicates_kept():
    assert group_anagrams(["ab", "ba", "ab"]) == [["ab", "ab", "ba"]]
