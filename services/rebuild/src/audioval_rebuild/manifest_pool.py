"""Bounded concurrency for manifests: slots taken before a receive, threads started on demand.

A receive loop asks :meth:`ManifestPool.reserve` for free slots before it asks SQS for messages,
so it never holds more manifests than the process can work on (a held message's visibility is
renewed, but its work has not started: holding more than that only delays them). Handler threads
are started as load needs them, up to ``size``, and stay for the next message. They are daemon
threads (not a ``ThreadPoolExecutor``): a classify call in flight at shutdown must not hold up
the process' exit; SQS hands its manifest to another worker once its visibility lapses.

:class:`KeyedLocks` orders the work where order matters: manifests of one key (the track id by
default) are handled one after another, others at the same time.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["KeyedLocks", "ManifestPool"]

T = TypeVar("T")


class ManifestPool:
    """Runs up to ``size`` handlers at a time on daemon threads started as they are needed."""

    def __init__(self, size: int, *, name: str = "rebuild-handler") -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self._name = name
        self._cond = threading.Condition()
        self._reserved = 0  # slots taken: queued or running
        self._idle = 0  # threads waiting for work
        self._threads: list[threading.Thread] = []
        self._work: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )

    @property
    def busy(self) -> int:
        """Slots taken (handlers queued or running)."""
        with self._cond:
            return self._reserved

    @property
    def threads(self) -> int:
        """Handler threads started so far (grows with load, up to ``size``)."""
        with self._cond:
            return len(self._threads)

    def reserve(self, most: int, timeout_s: float) -> int:
        """Take up to ``most`` free slots, waiting up to ``timeout_s`` for one; how many taken."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._reserved < self.size, timeout_s):
                return 0
            taken = min(most, self.size - self._reserved)
            self._reserved += taken
            return taken

    def give_back(self, count: int) -> None:
        """Return slots reserved but not used (fewer messages came than were asked for)."""
        if count <= 0:
            return
        with self._cond:
            self._reserved -= count
            self._cond.notify_all()

    def submit(self, handler: Callable[[], T]) -> Future[T]:
        """Run ``handler`` on a reserved slot; the slot is freed when it ends."""
        future: Future[T] = Future()
        with self._cond:
            if self._idle == 0 and len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._run, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            else:
                self._idle -= 1  # this work is that thread's
        self._work.put((handler, future))
        return future

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            handler, future = item
            result: Any = None
            error: BaseException | None = None
            running = future.set_running_or_notify_cancel()
            if running:
                try:
                    result = handler()
                except BaseException as exc:  # handed to whoever reads the future
                    error = exc
            # The slot is free before the result is out: whoever waited on it may reserve again.
            with self._cond:
                self._reserved -= 1
                self._idle += 1
                self._cond.notify_all()
            if running:
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no handler is queued or running; False if some still are."""
        with self._cond:
            return self._cond.wait_for(lambda: self._reserved == 0, timeout_s)


class KeyedLocks:
    """One lock per key while anyone holds or waits for it (no table that grows forever)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._lock:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)
