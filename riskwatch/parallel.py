"""Work split over worker processes: the one place the forecast engine and the detect run share.

Workers are forked (they inherit the parent's imports and data, nothing is re-imported) and each keeps
BLAS to one thread, so that two workers on two cores do not fight over four BLAS threads.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def limit_threads() -> None:
    """One BLAS / OpenMP thread in this process."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def map_chunks(fn: Callable[[T], R], chunks: Sequence[T], workers: int) -> Iterator[R]:
    """``fn`` over ``chunks``, in ``workers`` forked processes (in this one when ``workers <= 1`` or there
    is a single chunk); results come in the order of ``chunks``, each as soon as it and those before it
    are done. ``fn`` must be a module-level function (it is pickled by name)."""
    if workers <= 1 or len(chunks) <= 1:
        limit_threads()
        for chunk in chunks:
            yield fn(chunk)
        return
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(min(workers, len(chunks)), mp_context=ctx, initializer=limit_threads) as pool:
        futures = [pool.submit(fn, chunk) for chunk in chunks]
        for fut in futures:
            yield fut.result()
