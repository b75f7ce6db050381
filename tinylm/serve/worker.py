"""One thread runs every model call, and only so many requests may wait for it.

A model is never used by two requests at once, and past `max_queue` requests (waiting or
running) a new one is refused at once (HTTP 503) rather than queued without bound.
- Tasks (fill-mask, attention) run in order; waiting tasks that share a batch key run as one
  call, up to `batch` of them (fill-mask: one forward for several texts).
- Streams (completions) advance a turn at a time (QUANTUM seconds, a few tokens), in turn with
  each other and with the tasks: a long generation never holds the others up, and a stream whose
  client has gone is dropped at its next turn. A turn's events are delivered together: waking
  the event loop once per token would make the two threads fight over the GIL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass

log = logging.getLogger("tinylm.serve")
QUANTUM = 0.005  # seconds a stream runs per turn: tokens reach the client in bunches this fresh


class Busy(Exception):
    """The queue is full: the request is refused, not queued."""


class Stopped(Exception):
    """The server is stopping: the request will not run."""


@dataclass
class _Task:
    run: Callable[[list], list]  # items -> one result (or exception) per item
    item: object
    future: Future
    key: Hashable | None  # tasks with equal keys may run together


@dataclass(frozen=True)
class Done:
    """The last thing a stream delivers: why it ended."""

    error: BaseException | None = None
    cancelled: bool = False


class Stream:
    """A generation the worker advances a turn at a time, handing each turn's events (a list,
    ending with a Done when the stream ends) to `deliver`."""

    def __init__(self, events: Iterator, deliver: Callable[[list], None]) -> None:
        self.events, self.deliver = events, deliver
        self.steps = 0
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Stop at the next step (the client has gone); safe from any thread."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()


class Worker:
    """The model thread, its bounded queue and its counters."""

    def __init__(self, max_queue: int, batch: int = 1) -> None:
        self.max_queue, self.batch = max_queue, batch
        # tasks_run, groups, grouped, streams_done, cancelled, steps
        self.stats: Counter = Counter()
        self._cond = threading.Condition()
        self._tasks: deque[_Task] = deque()
        self._streams: deque[Stream] = deque()
        self._admitted = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        self._thread = threading.Thread(target=self._loop, name="tinylm-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the step in progress, then fail what waits and end every stream."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
        for task in self._tasks:
            if task.future.set_running_or_notify_cancel():
                task.future.set_exception(Stopped("the server is stopping."))
        for stream in self._streams:
            self._end(stream, [], Done(cancelled=True))
        self._tasks.clear()
        self._streams.clear()

    def submit(self, fn: Callable[[], object]) -> Future:
        """Run fn() on the worker; its result (or exception) comes through the future."""
        return self.submit_item(lambda items: [fn()], None, None)

    def submit_item(self, run: Callable[[list], list], item: object, key: Hashable) -> Future:
        """Queue `item` for run([...]); waiting items with the same key (not None) share a call."""
        task = _Task(run, item, Future(), key)
        with self._cond:
            self._admit()
            self._tasks.append(task)
            self._cond.notify()
        return task.future

    def open_stream(self, events: Iterator, deliver: Callable[[list], None]) -> Stream:
        """Start a stream: each turn takes events from `events` and delivers them; a Done last."""
        stream = Stream(events, deliver)
        with self._cond:
            self._admit()
            self._streams.append(stream)
            self._cond.notify()
        return stream

    def status(self) -> dict:
        """What waits and runs now, and the counters so far."""
        with self._cond:
            now = {"waiting": len(self._tasks), "streaming": len(self._streams)}
            return {**now, "admitted": self._admitted, "max_queue": self.max_queue, **self.stats}

    def _admit(self) -> None:
        if self._stopping:
            raise Stopped("the server is stopping.")
        if self._admitted >= self.max_queue:
            raise Busy(f"{self.max_queue} requests are already waiting or running")
        self._admitted += 1

    def _release(self, n: int = 1) -> None:
        with self._cond:
            self._admitted -= n

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not (self._tasks or self._streams or self._stopping):
                    self._cond.wait()
                if self._stopping:
                    return
                group = self._take_group()
                stream = self._streams.popleft() if self._streams else None
            if group:
                self._run_group(group)
            if stream is not None:
                self._step(stream)

    def _take_group(self) -> list[_Task]:
        """The first waiting task, with the waiting tasks that share its key (up to `batch`)."""
        if not self._tasks:
            return []
        group = [self._tasks.popleft()]
        key = group[0].key
        if key is not None:
            for task in list(self._tasks):
                if len(group) >= self.batch:
                    break
                if task.key == key:
                    self._tasks.remove(task)
                    group.append(task)
        return group

    def _run_group(self, group: list[_Task]) -> None:
        # a task whose caller gave up (cancelled its future) is skipped, not run
        live = [t for t in group if t.future.set_running_or_notify_cancel()]
        try:
            results = live[0].run([t.item for t in live]) if live else []
        except Exception as e:  # noqa: BLE001 - each caller gets the error, the worker goes on
            results = [e] * len(live)
        for task, result in zip(live, results, strict=True):
            if isinstance(result, BaseException):
                task.future.set_exception(result)
            else:
                task.future.set_result(result)
        self.stats["tasks_run"] += len(group)
        if group[0].key is not None:
            self.stats["groups"] += 1
            self.stats["grouped"] += len(group)
        self._release(len(group))

    def _step(self, stream: Stream) -> None:
        """Advance a stream for one turn (QUANTUM seconds at most) and deliver what it made in
        one call: one wake-up of the event loop per turn, not per token."""
        if stream.cancelled:
            self._end(stream, [], Done(cancelled=True))
            return
        made: list = []
        deadline = time.perf_counter() + QUANTUM
        while True:
            try:
                made.append(next(stream.events))
            except StopIteration:
                self._end(stream, made, Done())
                return
            except Exception as e:  # noqa: BLE001 - the stream's client hears of it, others go on
                log.exception("a stream failed")
                self._end(stream, made, Done(error=e))
                return
            if time.perf_counter() >= deadline:
                break
        stream.steps += len(made)
        self.stats["steps"] += len(made)
        stream.deliver(made)
        with self._cond:
            self._streams.append(stream)

    def _end(self, stream: Stream, made: list, done: Done) -> None:
        close = getattr(stream.events, "close", None)
        if close is not None:
            close()  # a generator's finally blocks run now, on this thread
        stream.steps += len(made)
        self.stats["steps"] += len(made)
        self.stats["streams_done"] += 1
        self.stats["cancelled"] += done.cancelled
        stream.deliver([*made, done])
        self._release()
