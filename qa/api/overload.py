"""Load shedding for the expensive routes: a few run at once, a bounded number wait
briefly, and the rest get 503 with Retry-After straight away.

Without a bound every /ask queued for FastAPI's 40-thread pool: 40 CPU-heavy questions
made each other (and anything else needing a thread) wait tens of seconds. With it the
pool never holds more than `limit` expensive requests, cheap routes are `async def` and
never wait for it, and a client learns at once, or within `timeout`, to come back later.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.api.middleware import send_error


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Slots:
    """A FIFO counting semaphore with a bounded wait list.

    Thread-safe and not tied to one event loop: a test client runs each request in
    its own loop and thread, so asyncio.Semaphore (bound to the first loop) won't do.
    A released slot passes straight to the longest waiter, so newcomers can't jump the queue.
    """

    def __init__(self, limit: int, queue: int) -> None:
        self.limit = limit
        self.queue = queue
        self.running = 0
        self._lock = threading.Lock()
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self, timeout: float) -> bool:
        """Take a slot, waiting at most `timeout` seconds; False when full (or the wait list is)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self.running < self.limit:
                self.running += 1
                return True
            if len(self._waiters) >= self.queue:
                return False
            entry = (loop, loop.create_future())
            self._waiters.append(entry)
        try:
            await asyncio.wait_for(entry[1], timeout)
            return True
        except TimeoutError:
            return self._leave(entry)  # True: release() handed us the slot just as the wait ended
        except asyncio.CancelledError:  # the client went away
            if self._leave(entry):
                self.release()
            raise

    def _leave(self, entry: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]) -> bool:
        """Leave the wait list; True if release() had already given this waiter the slot."""
        with self._lock:
            if entry in self._waiters:
                self._waiters.remove(entry)
                return False
            return True

    def release(self) -> None:
        with self._lock:
            while self._waiters:
                loop, waiter = self._waiters.popleft()
                try:
                    loop.call_soon_threadsafe(_wake, waiter)
                    return  # the slot moves to that waiter; `running` is unchanged
                except RuntimeError:  # its loop has closed: try the next waiter
                    continue
            self.running -= 1


class ConcurrencyLimitMiddleware:
    """At most `limit` requests to `paths` in flight, `queue` more waiting up to `timeout` s.

    A streamed answer (`streams`) holds its slot only until its first event, the passages: the CPU
    work (retrieval) is done by then, and what follows is mostly waiting on an LLM, which may take
    a minute and must not lock /ask and /search out meanwhile.
    """

    def __init__(self, app: ASGIApp, paths: frozenset[str], limit: int, queue: int, timeout: float,
                 streams: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.paths = paths
        self.streams = streams
        self.slots = Slots(limit, queue)
        self.timeout = timeout
        self.retry_after = max(1, math.ceil(timeout))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.paths or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        if not await self.slots.acquire(self.timeout):
            message = (f"the server is busy ({self.slots.limit} requests running, {self.slots.waiting} waiting); "
                       f"retry in {self.retry_after} s")
            await send_error(send, 503, "overloaded", message, scope.get("state", {}).get("request_id"),
                             ((b"retry-after", str(self.retry_after).encode()),))
            return
        held = True

        async def send_releasing(message: Message) -> None:
            nonlocal held
            await send(message)
            if held and message["type"] == "http.response.body" and message.get("body"):
                held = False
                self.slots.release()

        try:
            await self.app(scope, receive, send_releasing if scope.get("path") in self.streams else send)
        finally:
            if held:
                self.slots.release()
