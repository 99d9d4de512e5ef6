"""Formula injection: every CSV and XLSX riskwatch writes shows outside text as text (OWASP's rule), and
no writer bypasses `riskwatch.export`."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from cli_helpers import run
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from riskwatch.export import FORMULA_START, neutralize, neutralize_frame, write_csv, write_xlsx

ATTACKS = ["=HYPERLINK(\"http://x\",\"点此\")", "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "\t=1", "\r=1"]
ROOT = Path(__file__).resolve().parent.parent


@given(st.text(max_size=12))
def test_no_text_cell_starts_like_a_formula(text: str) -> None:
    out = neutralize(text)
    assert not out.startswith(FORMULA_START)
    assert out == text or out == "'" + text        # nothing else is changed


def test_numbers_and_missing_values_stay_as_they_are() -> None:
    frame = pd.DataFrame({"n": [-1.5, 2.0], "i": [-3, 4], "t": ["=1+1", None], "ok": ["正常", "a-b"]})
    out = neutralize_frame(frame)
    assert out["n"].tolist() == [-1.5, 2.0] and out["i"].tolist() == [-3, 4]
    assert out["t"].iloc[0] == "'=1+1" and pd.isna(out["t"].iloc[1])
    assert out["ok"].tolist() == ["正常", "a-b"]
    assert frame["t"].iloc[0] == "=1+1"              # the caller's frame is not changed


def test_csv_and_xlsx_writers(tmp_path: Path) -> None:
    frame = pd.DataFrame({"text": ATTACKS, "count": range(len(ATTACKS))})
    write_csv(frame, tmp_path / "out.csv")
    back = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert back["text"].tolist() == ["'" + a for a in ATTACKS]
    assert back["count"].tolist() == list(range(len(ATTACKS)))
    write_xlsx({"表一": frame}, tmp_path / "out.xlsx")
    ws = load_workbook(tmp_path / "out.xlsx")["表一"]
    cells = [ws.cell(row=i + 2, column=1) for i in range(len(ATTACKS))]
    # (openpyxl reads XlsxWriter's escaped carriage return back as the literal _x000D_)
    assert [c.value.replace("_x000D_", "\r") for c in cells] == ["'" + a for a in ATTACKS]
    assert {c.data_type for c in cells} == {"s"}      # text, never a formula
    assert [ws.cell(row=i + 2, column=2).value for i in range(len(ATTACKS))] == list(range(len(ATTACKS)))


def test_persons_resolve_neutralizes_record_ids(tmp_path: Path, small_config: Path) -> None:
    src = tmp_path / "in.csv"
    rows = [{"record_id": rid, "name": "张三", "id_number": "", "phone": "13912345678", "address": "某街道"}
            for rid in ATTACKS[:3]]
    pd.DataFrame(rows).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    res = run(small_config, f"sqlite:///{tmp_path}/x.db", "persons", "resolve", "--input", str(src),
              "--output", str(out))
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out, dtype=str)
    assert sorted(got["record_id"]) == sorted("'" + a for a in ATTACKS[:3])
    assert not got["person_id"].str.startswith(FORMULA_START).any()


def test_no_writer_bypasses_export() -> None:
    """Files for people are written by riskwatch.export only (the synthesizer imitates the source
    systems' raw exports, formula-like text included, and is the one exception)."""
    pattern = re.compile(r"\.to_csv\(|\.to_excel\(|csv\.writer\(|DictWriter\(|xlsxwriter\.Workbook\(|Workbook\(")
    offenders = []
    for path in (ROOT / "riskwatch").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "riskwatch/export.py" or rel.startswith("riskwatch/synth/"):
            continue
        offenders += [f"{rel}:{n}" for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                      if pattern.search(line)]
    assert offenders == []
