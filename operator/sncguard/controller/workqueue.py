"""The work queue: which policies are dirty, when each may be evaluated, and the timers that make them dirty.

Events mark policies dirty; the engine's worker takes them a chunk at a time. A policy not evaluated
lately is ready at once; one evaluated within the last `debounce` waits for that window to close, so
a burst of pod events (a rollout, a scale-up) costs it two evaluations. Deadlines (an RPO running out,
an access grant expiring) and the retries of failed evaluations are timers in the same loop, never
polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from .state import PolicyKey

RETRY_AFTER_ERROR_S = 5.0
# A failed Enforce write (a quota, an admission webhook, a 5xx) is retried after 5 s, 10 s, 20 s...
# up to this, until it goes through: nothing else may ever re-evaluate the policy.
RETRY_CAP_S = 300.0
# Deferred policies are evaluated this many at a time, so prompt work never waits behind them long.
DEFERRED_CHUNK = 4
# A policy's debounce window (see `WorkQueue.take`) is this close to closing: it is closed.
WINDOW_RESOLUTION_S = 0.001
TIMER_TOLERANCE_S = 0.01


class WorkQueue:
    def __init__(self, *, debounce: float = 0.2, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.debounce = debounce
        self.clock = clock
        self.dirty: set[PolicyKey] = set()
        # Dirty only indirectly (another tenant's namespace moved): evaluated after prompt work,
        # a few at a time, so a change someone waits to see is never queued behind them.
        self.deferred: set[PolicyKey] = set()
        # When each policy's last evaluation ended (event loop time): see `take`.
        self._last_evaluated_at: dict[PolicyKey, float] = {}
        self._wake = asyncio.Event()
        # (due, sequence, key): the sequence orders timers due at the same instant (thousands of
        # policies share a month's end or a deadline), since keys do not compare.
        self.deadlines: list[tuple[float, int, PolicyKey]] = []
        self._timer_sequence = itertools.count()
        self.timers: dict[PolicyKey, float] = {}
        # How many evaluations in a row failed or had a write refused, by policy.
        self.retries: dict[PolicyKey, int] = {}

    def mark(self, key: PolicyKey, *, deferred: bool = False) -> None:
        if deferred:
            if key not in self.dirty:
                self.deferred.add(key)
        else:
            self.deferred.discard(key)
        self.dirty.add(key)
        self._wake.set()

    def schedule_at(self, key: PolicyKey, when: datetime, slack: float = 0.5) -> None:
        """Evaluate `key` again when `when` has passed (plus a little slack for clock edges)."""
        delay = max(0.0, (when - self.clock()).total_seconds()) + slack
        self.schedule(key, delay)

    def schedule(self, key: PolicyKey, delay: float) -> None:
        due = time.monotonic() + delay
        current = self.timers.get(key)
        # Within 10 ms is the same timer: a due time computed from the wall clock jitters by
        # microseconds between evaluations, and each new entry would stay in the heap until due.
        if current is not None and current <= due + TIMER_TOLERANCE_S and current > time.monotonic():
            return  # an earlier timer will re-evaluate anyway and set the next one
        self.timers[key] = due
        heapq.heappush(self.deadlines, (due, next(self._timer_sequence), key))
        self._wake.set()

    def retry_later(self, key: PolicyKey) -> tuple[float, bool]:
        """Evaluate `key` again after 5 s, 10 s, 20 s... (RETRY_CAP_S at most) while its evaluations fail
        or have a write refused; `succeeded` starts the sequence afresh. (delay, first failure in a row)."""
        attempt = self.retries.get(key, 0)
        self.retries[key] = attempt + 1
        delay = min(RETRY_AFTER_ERROR_S * 2 ** attempt, RETRY_CAP_S)
        self.schedule(key, delay)
        return delay, attempt == 0

    def succeeded(self, key: PolicyKey) -> None:
        self.retries.pop(key, None)

    def forget(self, key: PolicyKey) -> None:
        """The policy is gone: nothing of it is pending."""
        self.dirty.discard(key)
        self.deferred.discard(key)
        self.replaced(key)

    def replaced(self, key: PolicyKey) -> None:
        """`key` names another object now: the timers, retries and debounce window were the previous
        object's. Still dirty if it was: the new object needs an evaluation all the more."""
        self.retries.pop(key, None)
        # Its entries in the deadline heap no longer match a timer: `wait` skips them.
        self.timers.pop(key, None)
        self._last_evaluated_at.pop(key, None)

    async def wait(self) -> None:
        """Until a policy may be ready: a mark, a timer due (its policy is dirty then), a debounce window closing."""
        now = asyncio.get_running_loop().time()
        timeout = None
        if self.deadlines:
            timeout = max(0.0, self.deadlines[0][0] - time.monotonic())
        window_closes = self._next_window_close(now)
        if window_closes is not None:
            timeout = window_closes if timeout is None else min(timeout, window_closes)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()
        due_by = time.monotonic()
        while self.deadlines and self.deadlines[0][0] <= due_by:
            due, _, key = heapq.heappop(self.deadlines)
            if self.timers.get(key) == due:
                del self.timers[key]
                self.dirty.add(key)

    def take(self) -> list[PolicyKey]:
        """The dirty policies to evaluate now, no longer dirty: the prompt ones, else a few deferred ones.

        A policy is evaluated as soon as it is dirty (leading edge), unless it was evaluated within the
        last `debounce`: then what keeps arriving is coalesced into one evaluation when that window
        closes (trailing edge). The first event of a change is seen at once, a burst of N events costs
        a policy one evaluation per window instead of N, and no other policy waits for it."""
        now = asyncio.get_running_loop().time()
        ready = {key for key in self.dirty if not self._in_window(key, now)}
        prompt = ready - self.deferred
        chunk = sorted(prompt or ready, key=PolicyKey.label)
        if not prompt:
            chunk = chunk[:DEFERRED_CHUNK]
        self.dirty.difference_update(chunk)
        self.deferred.difference_update(chunk)
        return chunk

    def evaluated(self, chunk: Iterable[PolicyKey]) -> None:
        """`chunk` was just evaluated: each policy's debounce window opens now."""
        finished = asyncio.get_running_loop().time()
        # Closed windows say nothing: dropping them keeps this to the policies of one window.
        self._last_evaluated_at = {key: at for key, at in self._last_evaluated_at.items()
                                   if self._in_window(key, finished)}
        self._last_evaluated_at.update(dict.fromkeys(chunk, finished))

    def _in_window(self, key: PolicyKey, now: float) -> bool:
        """Whether `key` was evaluated within the last `debounce`: then it is in a burst. A window about
        to close counts as closed: a wait shorter than the clock's resolution would never end."""
        last = self._last_evaluated_at.get(key)
        return last is not None and now + WINDOW_RESOLUTION_S < last + self.debounce

    def _next_window_close(self, now: float) -> float | None:
        """Seconds until the first dirty policy's window closes; None when no dirty policy waits."""
        closes = [self._last_evaluated_at[key] + self.debounce - now for key in self.dirty
                  if self._in_window(key, now)]
        return min(closes) if closes else None
