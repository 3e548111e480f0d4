from solution import count_levels

LOG = [
    "2024-05-01 12:00:00 INFO service starting",
    "2024-05-01 12:00:01 DEBUG loading config from /etc/app.toml",
    "2024-05-01 12:00:02 WARNING disk almost full",
    "2024-05-01 12:00:03 ERROR request failed",
    "Traceback (most recent call last):",
    '  File "app.py", line 3, in <module>',
    "ValueError: bad input",
    "",
    "2024-05-01 12:00:04 INFO retrying",
    "2024-05-01 12:00:05 CRITICAL giving up",
]


def test_counts_each_level():
    assert count_levels(LOG) == {"INFO": 2, "DEBUG": 1, "WARNING": 1, "ERROR": 1, "CRITICAL": 1}


def test_only_levels_that_occur():
    assert count_levels(["2024-05-01 12:00:04 ERROR boom"] * 3) == {"ERROR": 3}


def test_nothing_to_count():
    assert count_levels([]) == {}
    assert count_levels(["Traceback (most recent call last):", ""]) == {}


def test_level_word_in_the_message_does_not_count():
    assert count_levels(["2024-05-01 12:00:03 INFO ERROR in upstream, ignored"]) == {"INFO": 1}
    assert count_levels(["2024-05-01 12:00:03 WARN short form"]) == {}
