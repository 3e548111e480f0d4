from solution import parse_env


def test_simple_lines():
    assert parse_env("A=1\nB=two") == {"A": "1", "B": "two"}


def test_comments_blank_lines_and_junk_are_skipped():
    text = "# settings\n\nDEBUG=true\nthis line has no equals sign\n   # indented comment\n"
    assert parse_env(text) == {"DEBUG": "true"}


def test_export_and_spaces():
    assert parse_env("export NAME = Ada Lovelace ") == {"NAME": "Ada Lovelace"}
    assert parse_env("  PORT=8080  ") == {"PORT": "8080"}


def test_quoted_values_keep_their_inside():
    text = "URL='http://x/#top'  # where\nGREETING=\"  hello there \"\n"
    assert parse_env(text) == {"URL": "http://x/#top", "GREETING": "  hello there "}


def test_inline_comment_on_unquoted_value():
    assert parse_env("LEVEL=info # or debug") == {"LEVEL": "info"}
    assert parse_env("COLOR=#fff") == {"COLOR": "#fff"}


def test_value_may_contain_equals_and_be_empty():
    assert parse_env("DSN=postgres://u:p@h/db?ssl=1\nEMPTY=") == {
        "DSN": "postgres://u:p@h/db?ssl=1",
        "EMPTY": "",
    }


def test_later_line_wins():
    assert parse_env("A=1\nA=2") == {"A": "2"}
