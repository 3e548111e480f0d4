import pytest
from solution import total_hours


def test_sum_of_entries():
    assert total_hours(["09:00-12:30", "13:15-17:45"]) == 8.0
    assert total_hours(["08:00-08:20"]) == 0.33


def test_past_midnight():
    assert total_hours(["22:00-02:00"]) == 4.0
    assert total_hours(["23:30-00:15", "10:00-11:00"]) == 1.75


def test_no_entries():
    assert total_hours([]) == 0


@pytest.mark.parametrize("bad", ["9-12", "24:00-01:00", "10:60-11:00", "10:00 - 11:00x", "lunch"])
def test_bad_entry_raises_and_names_it(bad):
    with pytest.raises(ValueError, match=bad[:4]):
        total_hours(["09:00-10:00", bad])
