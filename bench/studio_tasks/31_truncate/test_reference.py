from solution import truncate


def test_short_text_unchanged():
    assert truncate("The quick brown fox", 50) == "The quick brown fox"
    assert truncate("exactly ten", 11) == "exactly ten"


def test_cuts_between_words():
    assert truncate("The quick brown fox", 15) == "The quick..."
    assert truncate("The quick brown fox jumps", 18) == "The quick brown..."


def test_strips_punctuation_before_the_placeholder():
    assert truncate("Hello, world and everyone else", 12) == "Hello..."
    assert truncate("Done. Next we ship it", 10) == "Done..."


def test_hard_cut_when_first_word_too_long():
    assert truncate("Supercalifragilistic", 10) == "Superca..."
    assert truncate("Supercalifragilistic word", 10) == "Superca..."


def test_custom_placeholder():
    assert truncate("one two three four", 10, placeholder="…") == "one two…"
    assert len(truncate("alpha beta gamma delta", 12, placeholder=" [more]")) <= 12
