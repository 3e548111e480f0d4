import pytest
from units import convert as convert_module
from units.convert import UnitError, convert
from units.table import FACTORS


def test_table_holds_the_units():
    assert set(FACTORS) >= {"m", "km", "cm", "mm", "mi", "ft", "in", "kg", "g", "lb", "oz"}
    assert FACTORS["mi"][1] == pytest.approx(1609.344)
    assert FACTORS["m"][0] == FACTORS["ft"][0] != FACTORS["kg"][0]


def test_lengths():
    assert convert(5, "km", "m") == pytest.approx(5000)
    assert convert(1, "mi", "km") == pytest.approx(1.609344)
    assert convert(12, "in", "ft") == pytest.approx(1)
    assert convert(250, "mm", "cm") == pytest.approx(25)


def test_masses():
    assert convert(1, "lb", "oz") == pytest.approx(16)
    assert convert(2.5, "kg", "g") == pytest.approx(2500)


def test_same_unit():
    assert convert(3.5, "ft", "ft") == pytest.approx(3.5)


def test_unit_error_is_a_value_error():
    assert issubclass(UnitError, ValueError)


def test_different_dimensions():
    with pytest.raises(UnitError, match="kg"):
        convert(1, "kg", "m")


def test_unknown_unit_named():
    with pytest.raises(UnitError, match="furlong"):
        convert(1, "furlong", "m")
    with pytest.raises(UnitError, match="stone"):
        convert(1, "kg", "stone")


def test_a_new_unit_only_needs_a_table_line(monkeypatch):
    monkeypatch.setitem(FACTORS, "yd", ("length", 0.9144))
    assert convert_module.convert(1, "yd", "ft") == pytest.approx(3)
