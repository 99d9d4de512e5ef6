"""Every command on empty, tiny and malformed input: a clear error and a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from riskwatch.cli import cli

FILES = {
    "empty.csv": b"",
    "header_only.csv": b"date,count\n",
    "one_row.csv": b"date,count\n2024-03-05,3\n",
    "garbage.csv": b"\x00\x01\x02\xff\xfe binary \x00 junk\n\x89PNG",
    "bad_dates.csv": b"date,count\nnot a date,3\n2024-13-45,4\n",
    "bad_counts.csv": b"date,count\n2024-03-04,many\n2024-03-11,-\n",
    "parties_header_only.csv": b"record_id,name,id_number,phone,address\n",
    "parties_no_id.csv": b"name,phone\n\xe5\xbc\xa0\xe4\xb8\x89,13912345678\n",
    "fake.xlsx": b"this is not a zip file",
}

CASES = [
    *[("detect", "--series", f, "--freq", "W", "--output", "OUT") for f in
      ("empty.csv", "header_only.csv", "one_row.csv", "garbage.csv", "bad_dates.csv", "bad_counts.csv",
       "missing.csv")],
    *[("forecast", "--series", f, "--freq", "W", "--horizon", "4", "--output", "OUT") for f in
      ("empty.csv", "header_only.csv", "one_row.csv", "garbage.csv", "bad_dates.csv", "bad_counts.csv")],
    ("forecast", "--series", "one_row.csv", "--freq", "W", "--horizon", "0", "--output", "OUT"),
    *[("persons", "resolve", "--input", f, "--output", "OUT") for f in
      ("empty.csv", "parties_header_only.csv", "parties_no_id.csv", "garbage.csv", "missing.csv")],
    ("ingest", "empty.csv"),
    ("ingest", "garbage.csv"),
    ("ingest", "fake.xlsx"),
    ("ingest", "missing.csv"),
    ("synth", "--out", "OUTDIR", "--years", "0"),
    ("synth", "--out", "OUTDIR", "--scale", "0"),
    ("stats", "--month", "2024-13"),
    ("stats", "--month", "soon"),
    ("forecast", "--show", "W:*:000000"),
    ("persons", "show", "PXXXXXXXXXX"),
    ("persons", "merge", "PXXXXXXXXXX", "PYYYYYYYYYY", "--reason", "test"),
    ("detect", "--freq", "Q"),
    ("detect",),                        # an empty store: nothing to detect
    ("forecast",),                      # an empty store: nothing to forecast
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) for c in CASES])
def test_bad_input_gives_one_clear_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    for name, data in FILES.items():
        (tmp_path / name).write_bytes(data)
    argv = [str(tmp_path / a) if a in FILES or a == "missing.csv" else
            str(tmp_path / "out.csv") if a == "OUT" else str(tmp_path / "synth") if a == "OUTDIR" else a
            for a in args]
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path}/rw.db", *argv])
    text = result.output
    assert result.exit_code != 0, text
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith(("错误", "Error:", "无法读取"))]
    assert len(errors) == 1, text
    assert len(errors[0]) > 20, text     # says what is wrong, not just that something is


def test_a_folder_ingest_lists_every_file_it_does_not_read(tmp_path: Path) -> None:
    """Hidden and lock files are ignored and said so; a damaged .xls is an error, never a silent skip
    (issue 12, item 5; a sound one is read: tests/test_ingest_damage.py)."""
    inbox = tmp_path / "inbox"
    (inbox / ".cache").mkdir(parents=True)
    good = "工单编号,来电时间,诉求内容,所属区县\nA1,2024-03-05 10:00,噪音扰民,东湖区\n"
    (inbox / "12345工单.csv").write_text(good, encoding="utf-8")
    (inbox / ".hidden.csv").write_text(good, encoding="utf-8")
    (inbox / ".cache" / "x.csv").write_text(good, encoding="utf-8")
    (inbox / "~$12345工单.xlsx").write_bytes(b"lock")
    (inbox / "旧格式.xls").write_bytes(b"\xd0\xcf\x11\xe0 old excel")
    (inbox / "说明.md").write_text("readme", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path}/rw.db", "ingest", str(inbox)])
    out = result.output
    assert result.exit_code != 0, out                          # the damaged .xls could not be read
    assert "12345工单.csv" in out and "new 1" in out
    for name, why in ((".hidden.csv", "hidden file"), ("x.csv", "hidden file"), ("~$12345工单.xlsx", "lock file"),
                      ("说明.md", "not an export")):
        assert any(name in line and why in line for line in out.splitlines()), (name, out)
    assert any("旧格式.xls" in line and "cannot read" in line for line in out.splitlines()), out
