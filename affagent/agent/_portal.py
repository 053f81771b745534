"""One private event loop in a daemon thread, so the sync wrappers (``respond_sync``,
``stream_sync``) work from any thread, including one that already runs a loop (Jupyter), and
reuse the same loop across calls (async HTTP clients stay bound to one loop)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class Portal:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                t = threading.Thread(target=loop.run_forever, name="affagent-loop", daemon=True)
                t.start()
                self._loop, self._thread = loop, t
            return self._loop

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        fut = asyncio.run_coroutine_threadsafe(coro, self._ensure())
        try:
            return fut.result()
        except BaseException:
            fut.cancel()
            raise

    def iterate(self, agen: AsyncIterator[T]) -> Iterator[T]:
        """Drive an async iterator from sync code; closing the sync iterator early closes
        (cancels) the async one."""
        try:
            while True:
                try:
                    item: T = self.call(agen.__anext__())  # type: ignore[arg-type]
                except StopAsyncIteration:
                    return
                yield item
        finally:
            aclose = getattr(agen, "aclose", None)
            if aclose is not None:
                self.call(aclose())

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            loop.close()
