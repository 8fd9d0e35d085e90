"""A circuit breaker with explicit outcomes, for calls that stream.

pybreaker was the first choice, but it decides the outcome of a generator by how the generator
ends: a client that goes away mid-stream closes it, which pybreaker must count either as a success
(closing a half-open circuit on no evidence) or as a failure (opening it though the LLM was fine).
A stream's outcome is known only to its consumer, so here the consumer reports it: `success()`,
`failure()`, or nothing (`abandon()`) when the client left before the LLM finished.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class CircuitBreaker:
    """closed: calls go through; after `failures` failures in a row, open: calls are refused for
    `reset` seconds; then half-open: one trial call at a time, whose outcome closes or reopens it."""

    def __init__(self, failures: int, reset: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.reset = reset
        self.clock = clock
        self._lock = threading.Lock()
        self._failed = 0
        self._opened_at: float | None = None
        self._trial = False  # a half-open trial call is running

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "open" if self.clock() - self._opened_at < self.reset else "half-open"

    def allow(self) -> bool:
        """Whether a call may start now (a True in half-open state makes it the trial call)."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half-open" and not self._trial:
                self._trial = True
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self._failed, self._opened_at, self._trial = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self._failed += 1
            if self._trial or self._failed >= self.failures:
                self._opened_at = self.clock()
            self._trial = False

    def abandon(self) -> None:
        """The call ended without an outcome (its client left): a half-open circuit may try again."""
        with self._lock:
            self._trial = False
