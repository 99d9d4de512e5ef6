"""Ingest benchmark: a 1,000,000-row synthetic 12345 export into SQLite (and PostgreSQL when given).

    python benchmarks/ingest.py [--rows 1000000] [--pg URL] [--repeat 1]

Each ingest runs as its own ``riskwatch ingest`` process through the CLI, on a fresh database each time;
its peak memory is that of the process and its forked reader together (sum of proportional set
sizes, sampled every second). Backends run side by
side in one invocation; quote the medians and the ratio, not a single run (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def make_input(rows: int, path: Path) -> None:
    if path.exists():
        return
    from riskwatch.config import load_settings
    from riskwatch.synth import write_hotline_bulk

    t = time.perf_counter()
    write_hotline_bulk(load_settings(), path, rows, seed=1)
    print(f"generated {rows} rows into {path} in {time.perf_counter() - t:.1f} s", flush=True)


def _tree_rss_kib(pid: int) -> int:
    """Memory of a process and all its descendants (KiB): the sum of their proportional set sizes
    (``Pss``, so pages the forked reader shares with its parent are not counted twice), from /proc."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/smaps_rollup").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("Pss:")))
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError, StopIteration, ValueError):
            continue
    return total


def run_ingest(db_url: str, path: Path) -> tuple[float, float, str]:
    """Seconds, peak resident memory (MiB, writer and forked reader, proportional set size summed, sampled every second) of one
    ``riskwatch ingest`` run, and its last output line."""
    subprocess.run([sys.executable, "-m", "riskwatch.cli", "--db", db_url, "db", "upgrade"],
                   check=True, capture_output=True)
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "riskwatch.cli", "--db", db_url, "ingest", str(path),
                             "--source", "hotline_12345"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while True:
        peak = max(peak, _tree_rss_kib(proc.pid))
        try:  # returns as soon as the ingest ends, so the sampling interval does not pad the time
            proc.wait(timeout=1.0)
            break
        except subprocess.TimeoutExpired:
            continue
    seconds = time.perf_counter() - t
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"ingest failed ({proc.returncode}): {err[-2000:]}")
    return seconds, peak / 1024, out.strip().splitlines()[-1]


def reset_pg(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pg", default=os.environ.get("RISKWATCH_BENCH_PG_URL"), help="PostgreSQL URL (optional)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "riskwatch-bench")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = args.workdir / f"hotline_{args.rows}.csv"
    make_input(args.rows, data)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}")
    results: dict[str, list[tuple[float, float]]] = {}
    for i in range(args.repeat):
        backends = [("sqlite", f"sqlite:///{args.workdir}/bench-{i}.db")]
        if args.pg:
            backends.append(("postgresql", args.pg))
        for name, url in backends:
            if name == "sqlite":
                Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
            else:
                reset_pg(url)
            seconds, rss, last = run_ingest(url, data)
            results.setdefault(name, []).append((seconds, rss))
            print(f"{name:<11} run {i + 1}: {seconds:7.1f} s  {args.rows / seconds:9,.0f} rows/s  "
                  f"peak {rss:7.0f} MiB   {last}", flush=True)
    print("\nmedians:")
    for name, runs in results.items():
        s = statistics.median(r[0] for r in runs)
        m = statistics.median(r[1] for r in runs)
        print(f"  {name:<11} {args.rows / s:9,.0f} rows/s   peak {m:6.0f} MiB   ({len(runs)} run(s))")


if __name__ == "__main__":
    main()
