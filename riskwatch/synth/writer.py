"""Write the synthetic city as real-shaped exports (CSV in UTF-8-BOM / GB18030, XLSX) plus ground truth."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from riskwatch.synth.layouts import (
    LAYOUTS,
    LEVELS,
    PETITION_CHANNEL_ALT,
    RESOLVED,
    SATISFACTION_12328,
    STATUS,
    UNIT_BY_TOP,
    Col,
)

FIXED_XLSX_TIME = datetime(2020, 1, 1, 0, 0, 0)
TITLES = {"hotline_12345": "{city}12345热线工单明细表", "hotline_12328": "{city}12328交通运输服务监督电话工单汇总",
          "petition_register": "{city}信访事项登记簿"}
DATE_FORMATS = ("iso", "slash", "cn")


@dataclass
class FilePlan:
    """One export file: which rows, which layout, how dates and the file itself are shaped."""

    path: Path
    source: str
    rows: np.ndarray
    variant: int
    date_fmt: str  # iso | slash | cn | serial | xlsx
    encoding: str  # utf-8-sig | gb18030 | xlsx
    as_of: pd.Timestamp
    title: bool = False
    total: bool = False
    trailing: int = 0
    tab_ids: bool = False
    bad_rows: bool = False
    is_update: bool = False
    written: int = 0
    bad: list[dict[str, object]] = field(default_factory=list)


def format_dates(values: pd.Series, fmt: str, day_only: bool) -> pd.Series:
    """Text of each timestamp in ``fmt`` (empty for NaT)."""
    s = pd.to_datetime(values)
    ok = s.notna()
    out = pd.Series("", index=values.index, dtype=object)
    if not ok.any():
        return out
    v = s[ok]
    y, m, d = v.dt.year.astype(str), v.dt.month.astype(str), v.dt.day.astype(str)
    hh, mm, ss = (v.dt.hour.map("{:02d}".format), v.dt.minute.map("{:02d}".format), v.dt.second.map("{:02d}".format))
    if fmt == "serial":
        serial = (v - pd.Timestamp("1899-12-30")) / pd.Timedelta(days=1)
        text = serial.map(lambda x: f"{x:.10f}".rstrip("0").rstrip("."))
    elif fmt == "slash":
        text = y + "/" + m + "/" + d + ("" if day_only else " " + hh + ":" + mm)
    elif fmt == "cn":
        text = y + "年" + m + "月" + d + "日" + ("" if day_only else " " + hh + ":" + mm)
    else:
        text = (y + "-" + v.dt.month.map("{:02d}".format) + "-" + v.dt.day.map("{:02d}".format)
                + ("" if day_only else " " + hh + ":" + mm + ":" + ss))
    out[ok] = text
    return out


def state_at(cases: pd.DataFrame, rows: np.ndarray, as_of: pd.Timestamp) -> pd.DataFrame:
    """Each case as its source system knew it at ``as_of``: status, closed time, level, updated time."""
    c = cases.iloc[rows]
    t = as_of.to_datetime64()
    closed = c["closed_at"].to_numpy() <= t
    status = np.where(closed, 3, np.where((c["returned_count"].to_numpy() > 0)
                                          & (c["person_id"].to_numpy() % 3 == 0), 2, 1))
    later = c["escalate_later"].to_numpy() & ~closed & (as_of < cases.attrs["end_ts"])
    level = np.maximum(c["level"].to_numpy() - later.astype(int), 0)
    upd = np.where(closed, c["closed_at"].to_numpy(),
                   np.minimum(c["registered_at"].to_numpy() + np.timedelta64(3600, "s"), t))
    return pd.DataFrame({"status": status, "closed": np.where(closed, c["closed_at"].to_numpy(), np.datetime64("NaT")),
                         "level": level, "updated": upd, "is_closed": closed}, index=c.index)


def record_frame(plan: FilePlan, cases: pd.DataFrame, parties: pd.DataFrame, names: dict[str, str],
                 geo_codes: dict[str, np.ndarray], cat_alias: dict[str, str], rng: np.random.Generator
                 ) -> pd.DataFrame:
    """Canonical-field text frame for ``plan.rows`` (dates still timestamps)."""
    c = cases.iloc[plan.rows]
    st = state_at(cases, plan.rows, plan.as_of)
    v = plan.variant
    src = plan.source
    code = c["category_code"]
    top = code.str[:2]
    f = pd.DataFrame(index=c.index)
    f["source_id"] = c["source_id"]
    ch = c["channel"].copy()
    if src == "petition_register" and v == 2:
        ch = ch.map(lambda x: PETITION_CHANNEL_ALT.get(x, x))
    f["channel"] = ch
    for k in ("received_at", "registered_at", "due_at"):
        f[k] = c[k]
    if src == "petition_register":
        f["received_at"] = c["received_at"].dt.floor("D")
    f["closed_at"] = st["closed"]
    f["updated_at"] = st["updated"]
    alias = rng.random(len(c)) < 0.2
    leaf = code.map(names)
    f["category"] = np.where(alias, code.map(lambda x: cat_alias.get(x, names[x])), leaf)
    f["category_l1"] = top.map(names)
    f["category_l2"] = leaf
    grid = c["grid"].to_numpy()
    f["district"] = geo_codes["district_name"][grid]
    f["township"] = geo_codes["town_name"][grid]
    f["community"] = geo_codes["comm_name"][grid]
    f["grid"] = geo_codes["grid_name"][grid]
    f["region_code"] = geo_codes["grid_code"][grid] if src != "petition_register" else geo_codes["comm_code"][grid]
    f["level"] = np.array(LEVELS[v % 3], dtype=object)[st["level"].to_numpy()]
    f["headcount"] = c["headcount"].astype(str)
    f["is_group"] = np.where(c["is_group"], "是", "否")
    unit = top.map(lambda x: UNIT_BY_TOP.get(x, "政府办"))
    f["handling_unit"] = np.where(c["person_id"] % 4 == 0, f["township"] + "办事处",
                                  f["district"] + unit)
    labels = STATUS[src][v % len(STATUS[src])]
    f["status"] = np.array(labels, dtype=object)[st["status"].to_numpy()]
    yes, no = RESOLVED[src][v % len(RESOLVED[src])]
    f["resolved"] = np.where(st["is_closed"], np.where(c["resolved"] == "yes", yes, no), "")
    sat = c["satisfaction"]
    if src == "hotline_12328":
        sat = sat.map(lambda x: SATISFACTION_12328.get(x, x))
    f["satisfaction"] = np.where(st["is_closed"], sat, "")
    f["returned_count"] = np.where(st["is_closed"] | (st["status"] == 2), c["returned_count"], 0).astype(str)
    f["urgency"] = c["urgency"]
    f["content"] = c["content"]
    f["summary"] = c["summary"]
    # parties: first-named person, co-parties joined
    p = parties[parties["case"].isin(plan.rows)]
    first = p[p["seq"] == 0].set_index("case")
    for k in ("name", "id_number", "phone", "address", "account"):
        f[k] = first[k].reindex(plan.rows).fillna("").to_numpy()
    co = p[p["seq"] > 0]
    if len(co):
        text = (co["name"] + "|" + co["id_number"] + "|" + co["phone"] + "|" + co["address"]).groupby(co["case"]).agg("；".join)
        f["co_parties"] = text.reindex(plan.rows).fillna("").to_numpy()
    else:
        f["co_parties"] = ""
    if plan.tab_ids:
        f["id_number"] = np.where(f["id_number"] != "", "\t" + f["id_number"], "")
    return f


def _header_rows(layout: list[Col], trailing: int) -> list[list[str]]:
    merged = any(up for _, up, _ in layout)
    if not merged:
        return [[h for _, _, h in layout] + [""] * trailing]
    top, low, prev = [], [], None
    for _, up, h in layout:
        if up is None:
            top.append(h)
            low.append("")
        else:
            top.append(up if up != prev else "")
            low.append(h)
        prev = up
    return [top + [""] * trailing, low + [""] * trailing]


def _text_frame(plan: FilePlan, rec: pd.DataFrame, layout: list[Col]) -> pd.DataFrame:
    day_only = plan.source == "petition_register"
    out = {}
    for i, (fld, _, _) in enumerate(layout):
        col = rec[fld]
        if fld.endswith("_at") and plan.date_fmt != "xlsx":
            col = format_dates(col, plan.date_fmt, day_only and fld != "updated_at")
        out[i] = col.fillna("") if col.dtype == object else col
    return pd.DataFrame(out)


def write_plan(plan: FilePlan, rec: pd.DataFrame, city: str, rng: np.random.Generator) -> None:
    """Write one file; bad rows (blank id, unparseable date) are recorded in ``plan.bad``."""
    layout = LAYOUTS[plan.source][plan.variant]
    plan.path.parent.mkdir(parents=True, exist_ok=True)
    pre: list[list[str]] = []
    if plan.title:
        pre.append([TITLES[plan.source].format(city=city)])
        pre.append([f"导出时间：{plan.as_of:%Y-%m-%d %H:%M:%S}"])
    head = _header_rows(layout, plan.trailing)
    frame = _text_frame(plan, rec, layout)
    first_data_row = len(pre) + len(head) + 1
    if plan.bad_rows and len(frame) > 200:
        n_bad = max(1, round(len(frame) * 0.0005))
        which = np.sort(rng.choice(len(frame), n_bad, replace=False))
        date_col = [i for i, (f, _, _) in enumerate(layout) if f == "received_at"][0]
        for j, r in enumerate(which):
            sid = rec["source_id"].iloc[r]
            if j % 2 == 0:
                frame.iat[r, 0] = ""
                fld, reason = "source_id", "blank id"
            else:
                frame.iat[r, date_col] = "2024-02-30 25:61" if j % 4 == 1 else "待补录"
                fld, reason = "received_at", "unparseable date"
            plan.bad.append({"file": str(plan.path.name), "row_number": first_data_row + int(r), "source_id": sid,
                             "field": fld, "reason": reason})
    for k in range(plan.trailing):
        frame[len(layout) + k] = ""
    plan.written = len(frame)
    if plan.encoding == "xlsx":
        _write_xlsx(plan.path, pre, head, frame, layout)
        return
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerows(pre)
    w.writerows(head)
    frame.to_csv(buf, header=False, index=False, lineterminator="\r\n")
    if plan.total:
        w.writerow(["合计", f"共{len(frame)}条"] + [""] * (frame.shape[1] - 2))
    plan.path.write_bytes(buf.getvalue().encode(plan.encoding))


def _write_xlsx(path: Path, pre: list[list[str]], head: list[list[str]], frame: pd.DataFrame, layout: list[Col]) -> None:
    """Title rows, the header (a two-row header merged as office systems do) and the records, with
    XlsxWriter (2x openpyxl's speed on the demo's sheets); times as Excel dates."""
    wb = xlsxwriter.Workbook(str(path), {"default_date_format": "yyyy-mm-dd hh:mm:ss",
                                         "strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False})
    wb.set_properties({"created": FIXED_XLSX_TIME})
    ws = wb.add_worksheet("Sheet1")
    for i, r in enumerate(pre + head):
        ws.write_row(i, 0, r)
    if len(head) == 2:  # merge the two-row header cells
        r1 = len(pre)
        col = 0
        while col < len(layout):
            up = layout[col][1]
            if up is None:
                ws.merge_range(r1, col, r1 + 1, col, head[0][col])
                col += 1
                continue
            last = col
            while last + 1 < len(layout) and layout[last + 1][1] == up:
                last += 1
            if last > col:
                ws.merge_range(r1, col, r1, last, head[0][col])
            col = last + 1
    first = len(pre) + len(head)
    for i, row in enumerate(frame.itertuples(index=False)):
        ws.write_row(first + i, 0, [(x.to_pydatetime() if isinstance(x, pd.Timestamp) and not pd.isna(x) else
                                    None if x is pd.NaT or (isinstance(x, float) and np.isnan(x)) else x)
                                   for x in row])
    wb.close()
    normalize_xlsx(path)


def normalize_xlsx(path: Path) -> None:
    """Make an XLSX byte-stable: fixed zip entry times and a fixed docProps modified time."""
    with zipfile.ZipFile(path) as zin:
        items = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    stamp = FIXED_XLSX_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in items:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rb"\g<1>" + stamp + rb"\g<2>", data)
            info = zipfile.ZipInfo(name, date_time=FIXED_XLSX_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)
