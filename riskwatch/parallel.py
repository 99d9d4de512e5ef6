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


class Beside:
    """``fn(*args)`` run in a forked child while this process goes on (in this process, at once, where only
    one core is available); ``wait()`` returns when it is done and raises if it failed. The child inherits
    the arguments (nothing is pickled) and returns nothing: it is for work that writes a file."""

    def __init__(self, fn: Callable[..., object], *args: object) -> None:
        import os

        self.process = None
        if (os.cpu_count() or 1) < 2:
            fn(*args)
            return
        self.process = multiprocessing.get_context("fork").Process(target=fn, args=args, daemon=True)
        self.process.start()
        self.name = getattr(fn, "__name__", "work")

    def wait(self) -> None:
        if self.process is None:
            return
        self.process.join()
        if self.process.exitcode != 0:
            raise RuntimeError(f"{self.name} failed in its process (exit code {self.process.exitcode}); "
                               "its error is printed above")
