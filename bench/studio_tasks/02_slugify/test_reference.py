from solution import slugify


def test_basic():
    assert slugify("Hello, World!") == "hello-world"


def test_runs_collapse():
    assert slugify("  Python   3.12 -- release notes ") == "python-3-12-release-notes"


def test_non_ascii_is_a_separator():
    assert slugify("Café au lait") == "caf-au-lait"


def test_empty():
    assert slugify("!!!") == ""
    assert slugify("") == ""


def test_already_slug():
    assert slugify("already-a-slug") == "already-a-slug"
