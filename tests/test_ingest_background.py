"""The forked ingest reader dies with its parent, however the parent dies (issue 12, item 9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from riskwatch.ingest.background import in_background

PARENT = """
import itertools, sys, time
from riskwatch.ingest.background import in_background
def produce():
    for i in itertools.count():
        yield b"x" * 1_000_000
gen = in_background(produce, lambda: None, depth=2)
next(gen)
import multiprocessing
print(multiprocessing.active_children()[0].pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_reader_dies_with_its_parent(sig: signal.Signals) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())      # the reader is blocked on its full queue now
        assert _alive(child)
        parent.send_signal(sig)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), f"reader {child} outlived its parent ({sig.name})"
    finally:
        parent.kill()


def test_results_and_return_value_come_through() -> None:
    gen = in_background(lambda: iter(range(5)), lambda: "done")
    got = []
    try:
        while True:
            got.append(next(gen))
    except StopIteration as stop:
        assert stop.value == "done"
    assert got == list(range(5))
