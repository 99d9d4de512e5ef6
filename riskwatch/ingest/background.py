"""Run a chunk producer in a child process so that reading and normalizing (one core) overlap with
writing to the database (the other core).

The child is forked, so it inherits the reader and settings without pickling them; it touches no
database connection and leaves through ``os._exit`` (multiprocessing's own exit), so connections the
parent holds are never closed by it. At most ``depth`` chunks wait in the queue: memory stays bounded.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from riskwatch.schema import UnreadableFileError

_ITEM, _DONE, _UNREADABLE, _FAILED = "item", "done", "unreadable", "failed"


def in_background(produce: Callable[[], Iterator[Any]], finish: Callable[[], Any],
                  depth: int = 2) -> Iterator[Any]:
    """Yield what ``produce()`` yields, computed in a forked child; afterwards ``finish()`` is called in
    the child and its result is returned as the generator's return value (``StopIteration.value``).

    ``UnreadableFileError`` raised in the child is raised again here with the same file and reason;
    any other error becomes a ``RuntimeError`` carrying the child's traceback.
    """
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue(maxsize=depth)
    parent = os.getpid()

    def child() -> None:
        _die_with(parent)
        try:
            for item in produce():
                queue.put((_ITEM, item))
            queue.put((_DONE, finish()))
        except UnreadableFileError as exc:
            queue.put((_UNREADABLE, (exc.file, exc.reason)))
        except BaseException:  # noqa: BLE001 - everything must reach the parent
            queue.put((_FAILED, traceback.format_exc()))

    process = ctx.Process(target=child, name="riskwatch-ingest-reader", daemon=True)
    process.start()
    try:
        while True:
            kind, payload = queue.get()
            if kind == _ITEM:
                yield payload
            elif kind == _DONE:
                return payload
            elif kind == _UNREADABLE:
                raise UnreadableFileError(*payload)
            else:
                raise RuntimeError(f"ingest reader process failed:\n{payload}")
    finally:
        if process.is_alive():
            process.terminate()
        process.join()


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with(parent: int) -> None:
    """Make this (child) process get SIGKILL when its parent dies, however it dies (kill -9 included), so
    that a reader blocked on a full queue never outlives the ingest that started it (Linux ``prctl``;
    elsewhere the ``daemon`` flag covers the parent's normal exit only)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:   # the parent died before the request took effect
        os._exit(1)
