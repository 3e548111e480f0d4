from solution import time_ago


def test_just_now():
    assert time_ago(0) == "just now"
    assert time_ago(59) == "just now"


def test_minutes():
    assert time_ago(60) == "1 minute ago"
    assert time_ago(119) == "1 minute ago"
    assert time_ago(3599) == "59 minutes ago"


def test_hours():
    assert time_ago(3600) == "1 hour ago"
    assert time_ago(7300) == "2 hours ago"
    assert time_ago(86399) == "23 hours ago"


def test_days_have_no_larger_unit():
    assert time_ago(86400) == "1 day ago"
    assert time_ago(90000) == "1 day ago"
    assert time_ago(400 * 86400) == "400 days ago"
