"""One writer at a time on a SQLite store, and a second writer told who it is waiting for.

SQLite takes one write lock per database and a writer that finds it held fails after its busy timeout
(``database is locked``); a persons run holds it for most of a minute, and scheduled jobs overlap with
commands typed by hand. Every command and job that writes therefore takes ``writer_lock`` first: an
exclusive ``flock`` on ``<database>.lock`` beside the database file, which records who holds it. A second
writer waits for the first to finish (saying once whom it waits for) and then runs; readers are not
affected (WAL). The operating system releases the lock when its holder dies, however it dies, so a killed
run never leaves a stale lock. PostgreSQL serializes writers itself: there the lock is a no-op.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from riskwatch.schema import RiskwatchError
from riskwatch.store.engine import sqlite_file

_held: dict[str, int] = {}          # lock path -> depth, for this process (the lock is re-entrant)
_guard = threading.Lock()


class StoreBusyError(RiskwatchError):
    """The store's writer lock was not free within the time allowed."""


def lock_path(url: str) -> Path | None:
    """``<database file>.lock`` for a SQLite file store; None for other stores and in-memory SQLite."""
    db = sqlite_file(url)
    return None if db is None else db.with_name(db.name + ".lock")


@contextmanager
def writer_lock(url: str, holder: str, timeout: float | None = None,
                on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the store's writer lock for the block (re-entrant within a process).

    ``holder`` says who takes it (``riskwatch persons``); a writer that finds the lock taken calls
    ``on_wait`` once with a sentence naming the holder, then waits, up to ``timeout`` seconds (for ever
    when None) before raising ``StoreBusyError``.
    """
    path = lock_path(url)
    if path is None:
        yield
        return
    key = str(path)
    with _guard:
        if _held.get(key):
            _held[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                _held[key] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, timeout, on_wait)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{holder} (pid {os.getpid()}) since {datetime.now():%Y-%m-%d %H:%M:%S}\n".encode(), 0)
        with _guard:
            _held[key] = 1
        try:
            yield
        finally:
            with _guard:
                _held.pop(key, None)
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, timeout: float | None, on_wait: Callable[[str], None] | None) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    who = path.read_text(encoding="utf-8", errors="replace").strip() or "another riskwatch process"
    message = f"the store is being written by {who}: waiting for it to finish"
    if on_wait is not None:
        on_wait(message)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if deadline is not None and time.monotonic() >= deadline:
                raise StoreBusyError(f"{message}: still busy after {timeout:.0f} s, nothing was written") from None
            time.sleep(0.2)
