from textstats import average_word_length, sentence_count, word_count


def test_word_count():
    assert word_count("don't stop-now") == 3
    assert word_count("") == 0


def test_sentence_count():
    assert sentence_count("Hi. How are you?! Fine...") == 3
    assert sentence_count("no ending here") == 1
    assert sentence_count("...") == 0


def test_average_word_length():
    assert average_word_length("ab abcd") == 3.0
    assert average_word_length("") == 0.0
