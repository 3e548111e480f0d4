import pytest
from confkit import ConfigError, load
from confkit.errors import ConfigError as ErrorsConfigError
from confkit.parser import parse

GOOD = """; site settings
[server]
Host = example.org
port=8080

# paths
[paths]
query = a=b&c=d
"""


def test_parse_sections_and_keys():
    assert parse(GOOD) == {
        "server": {"host": "example.org", "port": "8080"},
        "paths": {"query": "a=b&c=d"},
    }


def test_empty_text():
    assert parse("") == {}
    assert parse("\n; just a comment\n") == {}


def test_load_reads_a_file(tmp_path):
    path = tmp_path / "app.ini"
    path.write_text("[é]\nname = Zoë\n", encoding="utf-8")
    assert load(path) == {"é": {"name": "Zoë"}}
    assert load(str(path)) == {"é": {"name": "Zoë"}}


def test_the_error_is_one_class():
    assert ConfigError is ErrorsConfigError
    assert issubclass(ConfigError, Exception)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("key = 1\n[s]\n", 1),
        ("[s]\na = 1\n\nA = 2\n", 4),
        ("[s]\n[t]\n[s]\n", 3),
        ("[s]\na = 1\njust words\n", 3),
    ],
)
def test_errors_carry_the_line(text, line):
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert info.value.line == line
    assert str(info.value).startswith(f"line {line}: ")
