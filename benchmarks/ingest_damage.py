"""What damage costs the CSV reader: one bulk 12345 export, clean and with one damaged record, read side by side.

    python benchmarks/ingest_damage.py [--rows 200000] [--repeat 3]

Reads every chunk with ``read_table(...).chunks()`` (the reader alone: no normalize, no store), for:

* ``clean``: Arrow reads it all;
* ``quote@start`` / ``quote@end``: a quote left open in the 10th record / 30 records before the end (the careful
  reader takes over from the damaged record: re-reading the file up to it, then reading on until
  ``RESUME_AFTER`` sound records have passed, when Arrow takes over again);
* ``NUL@middle``, ``break@middle``: a NUL byte / a bare line break in the middle record;
* ``careful``: the careful reader from the first record to the end (the bound on any damage).

Prints the median seconds per case and its ratio to ``clean``, and checks that every case reads every record.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

from riskwatch.config import load_settings
from riskwatch.ingest.readers import read_table
from riskwatch.synth import write_hotline_bulk


def damaged_copies(clean: Path, rows: int, folder: Path) -> dict[str, Path]:
    """Copies of the export (header on line 1, one record a line) with one record damaged each."""
    lines = clean.read_bytes().split(b"\n")

    def at_field(line: bytes, k: int) -> int:  # byte offset of the k-th field's start
        pos = 0
        for _ in range(k):
            pos = line.index(b",", pos) + 1
        return pos

    def with_line(name: str, at: int, insert: bytes, field: int) -> Path:
        copy = list(lines)
        pos = at_field(copy[at], field)
        copy[at] = copy[at][:pos] + insert + copy[at][pos:]
        path = folder / f"{name}.csv"
        path.write_bytes(b"\n".join(copy))
        return path

    middle = 1 + rows // 2
    return {
        "clean": clean,
        "quote@start": with_line("quote_start", 10, b'"', 7),   # a quote opening a field, never closed
        "quote@end": with_line("quote_end", rows - 30, b'"', 7),
        "NUL@middle": with_line("nul", middle, b"\x00", 7),
        "break@middle": with_line("break", middle, b"\n", 7),  # a bare line break where a field starts
    }


def read_all(path: Path, careful: bool = False) -> tuple[float, int, int]:
    settings = load_settings()
    t = time.perf_counter()
    table = read_table(path, settings.mappings["hotline_12345"], settings.mappings, settings.ingest.chunk_rows)
    if careful:
        table.careful_from = table.header_row + table.header_rows + 1
    n = sum(len(c) for c in table.chunks())
    return time.perf_counter() - t, n, table.blank_lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {platform.node()} {platform.processor() or platform.machine()}, python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clean = folder / "clean.csv"
        write_hotline_bulk(load_settings(), clean, args.rows, seed=1)
        cases = {name: (path, False) for name, path in damaged_copies(clean, args.rows, folder).items()}
        cases["careful"] = (clean, True)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeat):  # interleaved, so that a noisy minute hits every case alike
            for name, (path, careful) in cases.items():
                seconds, n, blank = read_all(path, careful)
                times[name].append(seconds)
                print(f"  {name:<13} {seconds:6.2f} s  records {n + blank}", flush=True)
        base = statistics.median(times["clean"])
        print(f"\n{'case':<13} {'median s':>9} {'× clean':>8}   ({args.rows:,} rows, {args.repeat} runs)")
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"{name:<13} {med:9.2f} {med / base:8.2f}")


if __name__ == "__main__":
    main()
