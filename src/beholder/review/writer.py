"""Group commit: many concurrent writes, one transaction and one fsync.

With SQLite in WAL mode and ``synchronous=FULL`` each commit waits for one
fsync (3 to 6 ms measured on this project's virtual development disks), and
SQLite takes one writer at a time. If every request committed alone, twenty
reviewers posting at once would wait up to twenty fsyncs. Here one thread
takes every write queued while the previous transaction was committing,
runs them in one transaction and then returns a result to each caller, so
the wait stays near two commits however many requests arrive together. No
caller gets a result before its transaction has committed.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

logger = logging.getLogger(__name__)

_STOP = object()


class WriterStopped(RuntimeError):
    """The writer was closed, or did not respond in time."""


class GroupCommitWriter:
    """Run write functions on one thread, committing queued writes together.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Database to write to.
    rejections : tuple of exception types
        Exceptions a write function raises before it changes anything (such
        as "nothing to undo"). They fail only that write's caller, and the
        other writes of the transaction commit.
    max_batch : int
        Maximum number of writes in one transaction.
    """

    def __init__(self, engine, *, rejections: tuple = (), max_batch: int = 256):
        self.engine = engine
        self.rejections = rejections
        self.max_batch = max_batch
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    def submit(self, write: Callable, *, timeout: float = 60.0):
        """Run ``write(connection)`` in a transaction; return its result once committed.

        Raises
        ------
        WriterStopped
            When the writer is closed or the commit takes over ``timeout``
            seconds (the write may still commit later).
        Exception
            What ``write`` raised, or the database error of the transaction.
        """
        if self._closed:
            raise WriterStopped("the journal writer is closed.")
        self._start()
        future: Future = Future()
        self._queue.put((write, future))
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            raise WriterStopped(
                f"the journal write did not commit within {timeout} s; retry "
                "with the same request_id."
            ) from None

    async def submit_async(self, write: Callable, *, timeout: float = 60.0):
        """Like :meth:`submit`, for a coroutine: the event loop is not blocked."""
        if self._closed:
            raise WriterStopped("the journal writer is closed.")
        self._start()
        future: Future = Future()
        self._queue.put((write, future))
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            raise WriterStopped(
                f"the journal write did not commit within {timeout} s; retry "
                "with the same request_id."
            ) from None

    def close(self, *, timeout: float = 30.0) -> None:
        """Commit the writes already queued, then stop the thread."""
        self._closed = True
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout=timeout)
            self._thread = None

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="journal-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch, stop = [item], False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            try:
                self._commit(batch)
            except Exception:  # the thread must outlive a bug
                logger.exception("journal writer failed on a batch of %d", len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(WriterStopped("the journal write failed."))
            if stop:
                return

    def _commit(self, batch: list) -> None:
        try:
            outcomes = self._run_batch(batch)
        except Exception as error:  # noqa: BLE001 - passed on to every caller
            if len(batch) > 1:
                # Nothing of the batch committed. One write can fail a whole
                # PostgreSQL transaction, so each write gets its own.
                logger.warning(
                    "transaction of %d journal writes failed (%s); retrying each alone",
                    len(batch),
                    error,
                )
                for item in batch:
                    self._commit_alone(item)
                return
            self._commit_alone(batch[0], first_error=error)
            return
        for future, result, error in outcomes:
            _resolve(future, result, error)

    def _commit_alone(self, item, *, first_error: Exception | None = None) -> None:
        # A unique-key clash (another process wrote the same request_id) is
        # resolved by running the write again, which then finds that row.
        attempts = 1 if first_error is not None else 2
        error = first_error
        for _ in range(attempts):
            try:
                outcomes = self._run_batch([item])
            except Exception as caught:  # noqa: BLE001 - passed on to the caller
                error = caught
                continue
            if outcomes:
                _resolve(*outcomes[0])
            return
        logger.error("journal write failed: %s", error)
        _resolve(item[1], None, error)

    def _run_batch(self, batch: list) -> list:
        outcomes = []
        with self.engine.begin() as connection:
            for write, future in batch:
                # A caller that timed out before its write ran has cancelled
                # it and received an error, so the write is skipped. Once
                # running, a future can no longer be cancelled.
                if not future.running() and not future.set_running_or_notify_cancel():
                    continue
                try:
                    outcomes.append((future, write(connection), None))
                except self.rejections as rejection:
                    outcomes.append((future, None, rejection))
        return outcomes


def _resolve(future: Future, result, error) -> None:
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
