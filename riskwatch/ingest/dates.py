"""Dates and times as offices write them -> naive datetime64 wall-clock Asia/Shanghai (pure, vectorized)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskwatch.identity import halfwidth_series
from riskwatch.text import arrow_strings, extract_groups, strip_text, to_float

_DATE_RE = (r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<mo>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
            r"(?:[\sT]*(?P<h>\d{1,2})\s*[:时]\s*(?P<mi>\d{1,2})(?:\s*[:分]\s*(?P<s>\d{1,2})(?:[.,](?P<f>\d{1,9}))?\s*秒?)?\s*分?)?"
            r"\s*(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?$")

_COMPACT_RE = r"^(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})(?:\s*T?(?P<h>\d{2}):?(?P<mi>\d{2})(?::?(?P<s>\d{2}))?)?$"

_SERIAL_RE = r"^(?P<v>\d{4,6}(?:\.\d+)?)$"

EXCEL_EPOCH = np.datetime64("1899-12-30T00:00:00", "ns")

SERIAL_RANGE = (18264, 80000)  # 1950-01-01 .. 2119

NAT = np.datetime64("NaT", "ns")


def _assemble(y: np.ndarray, mo: np.ndarray, d: np.ndarray, h: np.ndarray, mi: np.ndarray,
              sec: np.ndarray) -> np.ndarray:
    """Calendar parts (float, NaN = missing; time parts NaN -> 0) -> datetime64[ns], NaT when impossible."""
    h, mi, sec = (np.nan_to_num(x, nan=0.0) for x in (h, mi, sec))
    ok = ((y >= 1900) & (y <= 2200) & (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= 31)
          & (h <= 23) & (mi <= 59) & (sec <= 59))
    yi = np.where(ok, y, 1970).astype("int64")
    mi_ = np.where(ok, mo, 1).astype("int64")
    di = np.where(ok, d, 1).astype("int64")
    month = (yi - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (mi_ - 1).astype("timedelta64[M]")
    first = month.astype("datetime64[D]")
    dim = ((month + np.timedelta64(1, "M")).astype("datetime64[D]") - first).astype("int64")
    ok &= di <= dim
    secs = (np.where(ok, h, 0) * 3600 + np.where(ok, mi, 0) * 60 + np.where(ok, sec, 0)).astype("int64")
    out = (first + (di - 1).astype("timedelta64[D]")).astype("datetime64[ns]") + secs.astype("timedelta64[s]")
    out[~ok] = NAT
    return out


def _fast_iso(t: pd.Series, out: np.ndarray) -> np.ndarray:
    """Native fast path for ``YYYY-MM-DD HH:MM:SS`` and ``YYYY-MM-DD`` (Arrow strptime; its roll-over of
    impossible days such as 02-30 is rejected by comparing the day back)."""
    arr = arrow_strings(t)
    length = pc.utf8_length(arr)
    for fmt, n in (("%Y-%m-%d %H:%M:%S", 19), ("%Y-%m-%d", 10)):
        cand = pc.equal(length, n)
        if not pc.any(cand).as_py():
            continue
        ts = pc.strptime(pc.if_else(cand, arr, pa.scalar(None, arr.type)), format=fmt, unit="s", error_is_null=True)
        day_txt = pc.utf8_slice_codeunits(pc.if_else(cand, arr, "0000-00-00"), 8, 10)
        same = pc.equal(pc.day(ts), pc.cast(pc.if_else(pc.match_substring_regex(day_txt, "^[0-9]{2}$"), day_txt, "0"), pa.int64()))
        good = pc.and_(pc.is_valid(ts), pc.fill_null(same, False)).to_numpy(zero_copy_only=False)
        if good.any():
            vals = pc.cast(ts, pa.timestamp("ns")).to_numpy(zero_copy_only=False)
            out = np.where(good & np.isnat(out), vals, out)
    return out


def _date_parts(g: dict[str, pa.Array]) -> np.ndarray:
    """Datetimes from the ``_DATE_RE`` groups (fraction of a second and UTC offset applied)."""
    dt = _assemble(to_float(g["y"]), to_float(g["mo"]), to_float(g["d"]), to_float(g["h"]), to_float(g["mi"]), to_float(g["s"]))
    frac = g["f"]
    if pc.any(pc.not_equal(frac, "")).as_py():
        fs = pd.Series(frac.to_numpy(zero_copy_only=False), dtype=object).fillna("").astype(str)
        fr = pd.to_numeric("0." + fs.where(fs != "", "0"), errors="coerce").fillna(0).to_numpy()
        dt = dt + np.round(fr * 1e6).astype("int64").astype("timedelta64[us]")
    tz = g["tz"]
    if pc.any(pc.not_equal(tz, "")).as_py():
        z = pd.Series(tz.to_numpy(zero_copy_only=False), dtype=object).fillna("").astype(str)
        sign = np.where(z.str.startswith("-"), -1, 1)
        hh = pd.to_numeric(z.str.slice(1, 3), errors="coerce").fillna(0).to_numpy()
        mm = pd.to_numeric(z.str.replace(":", "", regex=False).str.slice(3, 5), errors="coerce").fillna(0).to_numpy()
        shift = np.where(z.to_numpy() != "", 480 - sign * (hh * 60 + mm), 0).astype("int64")
        dt = dt + shift.astype("timedelta64[m]")
    return dt


def parse_datetimes(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse date/time text to naive ``datetime64[ns]`` wall-clock Asia/Shanghai (vectorized, Arrow RE2).

    Accepted: ``2024-03-05``, ``2024-03-05 14:30[:00[.fff]]``, ``2024-03-05T14:30:00+08:00`` / ``Z``
    (converted to +08:00, then naive), ``2024/3/5 [14:30]``, ``2024.3.5``, ``2024年3月5日 [14:30]`` /
    ``14时30分``, ``20240305[143000]``, Excel serials (``45356``, ``45356.604166``; 1900 system, epoch
    1899-12-30, rounded to the second). Impossible dates (2024-02-30, 25:61) are unparseable.

    Returns ``(parsed, bad)``: ``bad`` is True where the text is non-empty but unparseable.
    """
    t = halfwidth_series(strip_text(values)).str.replace("：", ":", regex=False)
    present = t.notna().to_numpy()
    out = np.full(len(t), NAT, dtype="datetime64[ns]")
    if present.any():
        out = _fast_iso(t, out)
        rest = present & np.isnat(out)
        if rest.any():
            sub = t[rest]
            res = np.full(len(sub), NAT, dtype="datetime64[ns]")
            ok, g = extract_groups(sub, _DATE_RE)
            if ok.any():
                res = np.where(ok, _date_parts(g), res)
            left = np.isnat(res)
            if left.any():
                ok2, g = extract_groups(sub, _COMPACT_RE)
                ok2 &= left
                if ok2.any():
                    dt = _assemble(to_float(g["y"]), to_float(g["mo"]), to_float(g["d"]), to_float(g["h"]), to_float(g["mi"]), to_float(g["s"]))
                    res = np.where(ok2, dt, res)
                left &= np.isnat(res)
            if left.any():
                ok3, g = extract_groups(sub, _SERIAL_RE)
                ok3 &= left
                if ok3.any():
                    v = to_float(g["v"])
                    ok3 &= (v >= SERIAL_RANGE[0]) & (v <= SERIAL_RANGE[1])
                    secs = np.round(np.where(ok3, v, 0) * 86400).astype("int64")
                    res = np.where(ok3, EXCEL_EPOCH + secs.astype("timedelta64[s]"), res)
            out[rest] = res
    parsed = pd.Series(out, index=values.index, dtype="datetime64[ns]")
    return parsed, pd.Series(present & np.isnat(out), index=values.index)

