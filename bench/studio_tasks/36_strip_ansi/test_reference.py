from solution import strip_ansi


def test_colors():
    assert strip_ansi("\x1b[31mError\x1b[0m: disk full") == "Error: disk full"
    assert strip_ansi("\x1b[1;32mPASSED\x1b[0m 12 tests") == "PASSED 12 tests"


def test_cursor_and_private_sequences():
    assert strip_ansi("\x1b[2K\x1b[1Gdownloading 40%") == "downloading 40%"
    assert strip_ansi("\x1b[?25lspinner\x1b[?25h") == "spinner"


def test_plain_text_unchanged():
    text = "no codes here [31m, just brackets; and 100% text\n"
    assert strip_ansi(text) == text
    assert strip_ansi("") == ""


def test_multiline():
    assert strip_ansi("\x1b[33mwarn\x1b[0m\nline 2\n\x1b[m") == "warn\nline 2\n"
