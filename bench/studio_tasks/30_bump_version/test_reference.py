import pytest
from solution import bump


def test_each_part():
    assert bump("1.4.2", "major") == "2.0.0"
    assert bump("1.4.2", "minor") == "1.5.0"
    assert bump("1.4.2", "patch") == "1.4.3"


def test_numbers_not_digits():
    assert bump("v2.0.9", "patch") == "v2.0.10"
    assert bump("0.9.0", "minor") == "0.10.0"


def test_v_prefix_kept_and_suffix_dropped():
    assert bump("v1.0.0", "major") == "v2.0.0"
    assert bump("1.2.3-rc.1", "major") == "2.0.0"
    assert bump("1.2.3+build.5", "minor") == "1.3.0"


@pytest.mark.parametrize("version", ["1.2", "1.2.3.4", "a.b.c", "", "1.-2.3", "1..3"])
def test_bad_versions(version):
    with pytest.raises(ValueError):
        bump(version, "patch")


def test_unknown_part():
    with pytest.raises(ValueError):
        bump("1.2.3", "build")
