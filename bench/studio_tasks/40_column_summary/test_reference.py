import pytest
from solution import column_summary


def test_example():
    rows = [{"qty": "3"}, {"qty": ""}, {"qty": "1,200"}]
    assert column_summary(rows, "qty") == {"count": 2, "min": 3.0, "max": 1200.0, "mean": 601.5}


def test_decimals_negative_and_spaces():
    rows = [{"t": " -1.5 "}, {"t": "2.5"}, {"t": "  "}, {"other": "9"}]
    result = column_summary(rows, "t")
    assert result["count"] == 2 and result["min"] == -1.5 and result["max"] == 2.5
    assert result["mean"] == pytest.approx(0.5)


def test_no_numbers():
    assert column_summary([], "qty") == {"count": 0}
    assert column_summary([{"qty": ""}, {"name": "x"}], "qty") == {"count": 0}


def test_bad_value_names_its_row():
    rows = [{"qty": "3"}, {"qty": "4"}, {"qty": "n/a"}]
    with pytest.raises(ValueError, match="row 3"):
        column_summary(rows, "qty")
