"""Small helpers for the integration tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """wait_for gave up; an AssertionError so that pytest reports it as a plain failure."""


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.2,
    message: str | Callable[[], str] = "condition",
) -> T:
    """Call `predicate` until it returns something truthy, and return that.

    Exceptions from the predicate count as "not yet" (an object not created yet, kubectl
    failing while a resource is not discoverable); the last one is reported on timeout.
    `message` may be a callable, evaluated only on timeout, to add diagnostics (a pod dump).
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    last_value: object = None
    while True:
        try:
            last_value = predicate()
            if last_value:
                return last_value
            last_error = None
        except Exception as e:
            last_error = e
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            detail = f"last error: {last_error!r}" if last_error else f"last value: {last_value!r}"
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {text}; {detail}")
        time.sleep(interval)
