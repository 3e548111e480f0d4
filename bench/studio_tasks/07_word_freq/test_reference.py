from solution import top_words


def test_counts_and_order():
    text = "the cat and the hat and the bat"
    assert top_words(text, 2) == [("the", 3), ("and", 2)]


def test_ties_alphabetical():
    assert top_words("b a c b a c", 3) == [("a", 2), ("b", 2), ("c", 2)]


def test_case_and_punctuation():
    assert top_words("Don't stop. DON'T, don't!", 1) == [("don't", 3)]


def test_fewer_words_than_n():
    assert top_words("one two", 5) == [("one", 1), ("two", 1)]
    assert top_words("", 3) == []
