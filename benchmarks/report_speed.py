"""Time `riskwatch report monthly` and `riskwatch report weekly` from the command line (issue 14's targets:
a month within 20 s, a week within 10 s, PDF + HTML + XLSX), on a copy of a store (default:
var/riskwatch.db, which riskwatch demo makes), median of N runs each, with the machine's load beside them.

    python benchmarks/report_speed.py [--db PATH] [--month 2026-11] [--week 2026-W47] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "riskwatch", *args], cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, default=Path("var/riskwatch.db"), help="a store (riskwatch demo makes one)")
    parser.add_argument("--month", default="2026-11")
    parser.add_argument("--week", default="2026-W47")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "riskwatch.db"
        shutil.copy(args.db, db)
        url = f"sqlite:///{db}"
        subprocess.run([sys.executable, "-m", "riskwatch", "--db", url, "db", "upgrade"], cwd=ROOT, check=True,
                       capture_output=True)
        out = Path(tmp) / "reports"
        for name, cmd in (("monthly", ["report", "monthly", "--month", args.month]),
                          ("weekly", ["report", "weekly", "--week", args.week])):
            times = [timed(["--db", url, *cmd, "--out", str(out)], ROOT) for _ in range(args.runs)]
            print(f"{name:8} median {statistics.median(times):5.1f} s  runs {' '.join(f'{t:.1f}' for t in times)}"
                  f"  (load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
