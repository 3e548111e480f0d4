import functools
import time


def retry(attempts=3, exceptions=(Exception,), delay=0.0):
    """Call the decorated function up to `attempts` times while it raises `exceptions`."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for attempt in range(1, attempts + 1):
                try:
                    return func(*args, **kwargs)
                except exceptions:
                    if attempt == attempts:
                        raise
                    time.sleep(delay)
            raise AssertionError("unreachable")

        return wrapper

    return decorate
