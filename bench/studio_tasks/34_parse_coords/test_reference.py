import pytest
from solution import parse_coords


def test_signed_decimals():
    assert parse_coords("48.8584, 2.2945") == (48.8584, 2.2945)
    assert parse_coords("-33.8688,151.2093") == (-33.8688, 151.2093)
    assert parse_coords("  40 , -74.5 ") == (40.0, -74.5)


def test_hemisphere_letters():
    assert parse_coords("33.8688 S, 151.2093 E") == (-33.8688, 151.2093)
    assert parse_coords("51.5N,0.12w") == (51.5, -0.12)


def test_bounds_are_inclusive():
    assert parse_coords("90, 180") == (90.0, 180.0)
    assert parse_coords("90 S, 180 W") == (-90.0, -180.0)


@pytest.mark.parametrize("text", ["91, 0", "0, 180.5", "95 N, 10 E", "-90.1, 0"])
def test_out_of_range(text):
    with pytest.raises(ValueError):
        parse_coords(text)


@pytest.mark.parametrize("text", ["", "48.8584 2.2945", "north, east", "10 E, 20 N", "1,2,3"])
def test_not_coordinates(text):
    with pytest.raises(ValueError):
        parse_coords(text)
