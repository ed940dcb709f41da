"""Apply a function to chunks of a list across worker processes."""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

from beholder.progress import NullProgress, Progress

logger = logging.getLogger(__name__)

# Chunks are small enough that the progress bar moves and the last worker
# does not finish long after the others, and large enough that sending
# results between processes costs little next to decoding.
MIN_CHUNK = 16
MAX_CHUNK = 256
CHUNKS_PER_WORKER = 8


def resolve_n_jobs(n_jobs: int | None) -> int:
    """Return the number of worker processes for ``n_jobs``.

    ``None`` or ``-1`` means one per CPU that this process may run on;
    other negative values count back from that, as in scikit-learn.
    """
    available = _available_cpus()
    if n_jobs is None or n_jobs == -1:
        return available
    if n_jobs == 0:
        raise ValueError(
            "n_jobs=0 is invalid: use a positive count, or -1 for all CPUs."
        )
    if n_jobs < 0:
        return max(1, available + 1 + n_jobs)
    return n_jobs


def map_chunks(
    function: Callable,
    items: Sequence,
    *,
    n_jobs: int | None = None,
    progress: Progress | None = None,
) -> list:
    """Apply ``function`` to consecutive chunks of ``items``, in worker processes.

    ``function`` takes a list of items and returns one result for the chunk.
    It must be a module-level function, because workers find it by name. An
    exception it raises reaches the caller and ends the whole map, so it
    should record bad items in its result instead. Returns the chunk results
    in input order. With one
    job, or fewer items than two chunks, everything runs in this process.
    Progress advances by the size of each finished chunk.

    Each worker, and this process when it does the work itself, runs with
    one BLAS thread: the chunks already use every core, and BLAS threads on
    top of them would spin for work instead.
    """
    progress = progress or NullProgress()
    items = list(items)
    n_workers = min(resolve_n_jobs(n_jobs), max(1, len(items)))
    size = _chunk_size(len(items), n_workers)
    chunks = [items[start : start + size] for start in range(0, len(items), size)]
    if n_workers == 1 or len(chunks) < 2:
        results = []
        with threadpool_limits(limits=1, user_api="blas"):
            for chunk in chunks:
                results.append(function(chunk))
                progress.advance(len(chunk))
        return results

    results: list = [None] * len(chunks)
    with _executor(n_workers) as executor:
        futures = {
            executor.submit(function, chunk): index
            for index, chunk in enumerate(chunks)
        }
        for future in as_completed(futures):
            index = futures[future]
            results[index] = future.result()
            progress.advance(len(chunks[index]))
    return results


def _chunk_size(n_items: int, n_workers: int) -> int:
    wanted = n_items // max(1, n_workers * CHUNKS_PER_WORKER)
    return max(MIN_CHUNK, min(MAX_CHUNK, wanted))


def _available_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _context():
    """Start workers by fork on Linux, else by the platform's default method.

    Fork starts a worker in milliseconds, where spawn and forkserver import
    numpy, PIL and pandas again in each worker (seconds on a busy machine).
    Forking a process that runs other threads is unsafe when the child takes
    a lock that one of those threads held. The workers here only decode
    files with PIL and call numpy, whose OpenBLAS and Python's logging reset
    their locks after a fork, so the warning that Python 3.12+ gives for
    forking a multi-threaded process (numpy alone starts a BLAS thread) is
    silenced in :func:`_executor` for this case only.
    """
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


@contextmanager
def _executor(n_workers: int):
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*multi-threaded.*fork", category=DeprecationWarning
        )
        with ProcessPoolExecutor(
            n_workers, mp_context=_context(), initializer=_prepare_worker
        ) as executor:
            yield executor


def _prepare_worker() -> None:
    """Set up a worker process: one BLAS thread, and freed memory kept for reuse."""
    threadpool_limits(limits=1, user_api="blas")
    _keep_freed_memory()


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def _keep_freed_memory() -> None:
    """Make glibc keep freed memory in the heap instead of returning it to the OS.

    Each chunk allocates and frees tens of megabytes of arrays. By default
    glibc maps large arrays afresh and trims the heap after each chunk, so
    the next chunk faults every page in again. On a 2-CPU virtual machine
    that cost about 15 % of a scan of 15-Scene. Only worker processes
    change the setting, and C libraries other than glibc are left alone.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return  # not glibc (musl, for one)
    mallopt(_M_MMAP_THRESHOLD, 64 * 2**20)
    mallopt(_M_TRIM_THRESHOLD, 256 * 2**20)
