"""A worker stream seen from the event loop: its events as an async iterator, and the stream
cancelled as soon as nobody reads it (the client disconnected, or the response failed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

from tinylm.serve.errors import ApiError
from tinylm.serve.worker import Busy, Done, Stopped, Worker


def busy_error(e: Exception) -> ApiError:
    """The 503 of a full queue or a stopping server."""
    if isinstance(e, Busy):
        return ApiError(503, f"the server is busy: {e}; retry shortly.", code="queue_full")
    return ApiError(503, str(e), code="stopping")


async def run_task(worker: Worker, fn: Callable[[], object]) -> object:
    """fn() on the worker, awaited; a full queue is a 503 at once."""
    try:
        future = worker.submit(fn)
    except (Busy, Stopped) as e:
        raise busy_error(e) from None
    return await asyncio.wrap_future(future)


class Bridge:
    """Opens a stream on the worker (a full queue: a 503 before any response starts)."""

    def __init__(self, worker: Worker, events: Iterator) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue = asyncio.Queue()
        try:
            self.stream = worker.open_stream(events, self._deliver)
        except (Busy, Stopped) as e:
            raise busy_error(e) from None

    def _deliver(self, items: list) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, items)
        except RuntimeError:  # the event loop has closed: nobody will read this stream
            self.stream.cancel()

    async def batches(self) -> AsyncIterator[list]:
        """The stream's events, a worker turn's at a time, until it ends; its error, if it
        failed, is raised here."""
        try:
            while True:
                items = await self._queue.get()
                done = items[-1] if items and isinstance(items[-1], Done) else None
                events = items[:-1] if done is not None else items
                if events:
                    yield events
                if done is None:
                    continue
                if done.error is not None:
                    raise done.error
                if done.cancelled:
                    raise ApiError(503, "the server is stopping.", code="stopping")
                return
        finally:  # also when the response task is cancelled because the client went away
            self.stream.cancel()

    async def events(self) -> AsyncIterator:
        """The stream's events one by one."""
        async for batch in self.batches():
            for event in batch:
                yield event
