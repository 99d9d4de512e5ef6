"""Two writers on one SQLite store: the second waits for the first, says whom it waits for, and then
succeeds; never `database is locked` (issue 12, item 8)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run, table

from riskwatch.store.lock import StoreBusyError, lock_path, writer_lock

HOLDER = """
import sqlite3, sys, time
from riskwatch.store.lock import writer_lock
url, db, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
with writer_lock(url, "riskwatch persons"):
    conn = sqlite3.connect(db)
    conn.execute("BEGIN IMMEDIATE")          # holds SQLite's write lock, as a persons run does
    print("holding", flush=True)
    time.sleep(seconds)
    conn.rollback()
"""


def _hold(url: str, db: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, url, str(db), str(seconds)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


def test_an_ingest_during_another_writer_waits_and_then_succeeds(tmp_path: Path, small_config: Path,
                                                                 small_city: Path) -> None:
    db = tmp_path / "rw.db"
    url = f"sqlite:///{db}"
    assert run(small_config, url, "db", "upgrade").exit_code == 0
    holder = _hold(url, db, 8.0)                 # longer than SQLite's 5 s busy timeout
    started = time.monotonic()
    result = run(small_config, url, "ingest", str(small_city / "petition_register"))
    waited = time.monotonic() - started
    holder.wait(timeout=30)
    assert result.exit_code == 0, result.output
    assert "waiting" in result.output and "riskwatch persons (pid" in result.output
    assert waited > 3
    batches = table(url, "ingest_batches")
    assert len(batches) > 0 and len(table(url, "cases")) > 0


def test_two_ingests_at_once_both_succeed(tmp_path: Path, small_config: Path, small_city: Path) -> None:
    db = tmp_path / "rw.db"
    url = f"sqlite:///{db}"
    procs = [subprocess.Popen([sys.executable, "-m", "riskwatch.cli", "--config", str(small_config), "--db", url,
                               "ingest", str(small_city / source)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
             for source in ("hotline_12345", "petition_register")]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    for p, out in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out
        assert "Traceback" not in out and "locked" not in out, out
    alone = tmp_path / "alone.db"
    for source in ("hotline_12345", "petition_register"):
        assert run(small_config, f"sqlite:///{alone}", "ingest", str(small_city / source)).exit_code == 0
    cols = ["source", "source_id", "status"]
    both = table(url, "cases")[cols].sort_values(cols[:2]).reset_index(drop=True)
    one_by_one = table(f"sqlite:///{alone}", "cases")[cols].sort_values(cols[:2]).reset_index(drop=True)
    pd.testing.assert_frame_equal(both, one_by_one)


def test_lock_is_reentrant_times_out_and_is_a_no_op_elsewhere(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    with writer_lock(url, "outer"), writer_lock(url, "inner"):   # the same process may nest
        assert "outer" in lock_path(url).read_text()
    holder = _hold(url, tmp_path / "x.db", 5.0)
    try:
        waits: list[str] = []
        with pytest.raises(StoreBusyError, match="nothing was written"), writer_lock(url, "second", timeout=0.5,
                                                                                      on_wait=waits.append):
            pass
        assert waits and "riskwatch persons" in waits[0]
    finally:
        holder.kill()
    assert lock_path("postgresql://u@localhost/db") is None
    with writer_lock("postgresql://u@localhost/db", "x"):
        pass
