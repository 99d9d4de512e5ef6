"""Time `riskwatch demo` step by step, with a probe of the machine's speed beside it.

    python benchmarks/demo.py [--keep DIR]

Runs the README's demo command (`riskwatch demo`) on a fresh database in a temporary folder and reports the
wall time of each of its eight steps (the demo prints them), the whole command, and the largest resident set
of its processes. The machine probe (a pure-Python loop and a NumPy matrix product, median of five) is
printed first so that figures taken on machines of different speed can be compared: the project's machines
are all 2 cores and 24 GiB, but not all equally fast.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STEP = re.compile(r"^\s*(?:.*\S)?\s*\((\d+) s\)\s*$")
STEP_NAMES = ("synth", "ingest", "stats", "forecast", "persons", "detect", "ledger", "report")


def machine_probe() -> dict[str, float]:
    """Median seconds of a 5,000,000-step Python loop and of 200 products of 300 x 300 matrices."""
    def loop() -> float:
        t = time.perf_counter()
        total = 0
        for i in range(5_000_000):
            total += i
        return time.perf_counter() - t

    def matmul() -> float:
        a = np.random.default_rng(0).random((300, 300))
        t = time.perf_counter()
        for _ in range(200):
            a @ a
        return time.perf_counter() - t

    return {"python_loop_s": statistics.median(loop() for _ in range(5)),
            "numpy_matmul_s": statistics.median(matmul() for _ in range(5))}


def run_demo(folder: Path) -> tuple[float, list[float], str]:
    cmd = ["riskwatch", "--db", f"sqlite:///{folder / 'riskwatch.db'}", "demo", "--out", str(folder / "demo")]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    total = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"riskwatch demo failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    steps = [float(m.group(1)) for line in proc.stdout.splitlines() if (m := STEP.match(line))]
    return total, steps, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None, help="run in this folder and keep what it made")
    args = parser.parse_args()
    probe = machine_probe()
    print(f"machine: python loop {probe['python_loop_s']:.2f} s, numpy matmul {probe['numpy_matmul_s']:.2f} s")
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        total, steps, _ = run_demo(args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="riskwatch-demo-") as tmp:
            total, steps, _ = run_demo(Path(tmp))
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"riskwatch demo: {total:.0f} s in total ({total / 60:.1f} min), largest process {peak_mb:.0f} MB")
    for name, seconds in zip(STEP_NAMES, steps, strict=False):
        print(f"  {name:<9} {seconds:5.0f} s")


if __name__ == "__main__":
    main()
