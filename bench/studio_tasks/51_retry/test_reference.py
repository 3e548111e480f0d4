import pytest
from solution import retry


def flaky(failures, exc=ConnectionError):
    calls = []

    def call(x):
        calls.append(x)
        if len(calls) <= failures:
            raise exc(f"failure {len(calls)}")
        return x * 2

    return call, calls


def test_succeeds_after_failures():
    call, calls = flaky(2)
    assert retry(attempts=3)(call)(21) == 42
    assert len(calls) == 3


def test_no_retry_on_success():
    call, calls = flaky(0)
    assert retry()(call)(1) == 2
    assert calls == [1]


def test_last_exception_reraised_unchanged():
    call, calls = flaky(5)
    with pytest.raises(ConnectionError, match="failure 3"):
        retry(attempts=3, exceptions=(ConnectionError,))(call)(1)
    assert len(calls) == 3


def test_other_exceptions_pass_straight_through():
    call, calls = flaky(5, exc=KeyError)
    with pytest.raises(KeyError):
        retry(attempts=4, exceptions=(ConnectionError,))(call)(1)
    assert len(calls) == 1


def test_keeps_name_and_docstring():
    @retry(attempts=2)
    def fetch():
        """Fetch the thing."""
        return 1

    assert fetch.__name__ == "fetch" and fetch.__doc__ == "Fetch the thing."
    assert fetch() == 1


def test_zero_attempts_is_refused():
    with pytest.raises(ValueError):
        retry(attempts=0)
