from solution import RateLimiter


def test_limit_within_a_window():
    limiter = RateLimiter(3, 10)
    assert [limiter.allow("a", t) for t in (0, 1, 2, 3)] == [True, True, True, False]


def test_calls_expire_after_the_period():
    limiter = RateLimiter(2, 10)
    assert limiter.allow("a", 0.0)
    assert limiter.allow("a", 5.0)
    assert not limiter.allow("a", 9.9)
    assert limiter.allow("a", 10.0)  # the call at 0 no longer counts
    assert not limiter.allow("a", 14.9)
    assert limiter.allow("a", 15.0)


def test_rejected_calls_do_not_count():
    limiter = RateLimiter(1, 10)
    assert limiter.allow("a", 0)
    for t in range(1, 10):
        assert not limiter.allow("a", t)
    assert limiter.allow("a", 10)


def test_keys_are_independent():
    limiter = RateLimiter(1, 60)
    assert limiter.allow("alice", 0)
    assert limiter.allow("bob", 0)
    assert not limiter.allow("alice", 1)
    assert not limiter.allow("bob", 1)
