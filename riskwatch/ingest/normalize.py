"""Raw text chunk -> clean case / party / quarantine frames (pure: no files, no database, no clock).

``normalize_chunk(raw, mapping, refs, file)`` takes one chunk from ``readers.RawTable.chunks()`` (text
columns named by header, plus ``row_number``, optional ``is_total_row`` / ``extra_cells``) and returns a
``NormalizedChunk``:

``cases``
    ``schema.CASE_COLUMNS``. Text columns are object dtype (``str`` or ``None``); ``received_at``,
    ``registered_at``, ``due_at``, ``closed_at``, ``updated_at`` naive ``datetime64[ns]`` wall-clock
    Asia/Shanghai (``received_at`` never NaT); ``is_group`` bool; ``headcount``, ``returned_count``,
    ``row_number`` int64; ``resolved`` nullable ``boolean``.
``parties``
    ``schema.PARTY_COLUMNS`` plus ``row_number`` (int64, the case's input row, so that two versions of
    one source_id in a chunk keep their own parties). ``seq`` int64, ``id_valid`` / ``phone_valid`` bool,
    the rest object (``str`` or ``None``).
``quarantine``
    ``schema.QUARANTINE_COLUMNS``: one row per input row not stored (blank ``source_id``, missing or
    unparseable ``received_at``, total row, structurally broken row); ``raw`` is the JSON text of the
    whole input row (header -> text, ``ensure_ascii=False``).
``notes``
    ``row_number, field, note``: non-fatal fixes, at most one per (row, field) (several are joined with
    ``"; "``). A note reads ``"<kind>: <detail>"``; kinds: ``invalid id number``, ``phone not
    normalizable``, ``unknown category``, ``region unresolved``, ``unknown value``, ``unparseable date``,
    ``bad number``, ``truncated``, ``formula-like text``, ``broken co-party``.

Every input row ends up in exactly one of ``cases`` and ``quarantine``; the same ``source_id`` twice in a
chunk gives two case rows (the store orders versions). Free text is stored verbatim, including
formula-like text (``=cmd|' /C calc'!A0``): it is flagged with a note here, and every export (XLSX/CSV
writers in ``report/``) must neutralize it (prefix ``'``) before writing a cell.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskwatch.config import GroupRules, IngestSettings, RegionTree, Settings, SourceMapping, Taxonomy
from riskwatch.ingest.identity import halfwidth_series, normalize_id_numbers, normalize_phones
from riskwatch.schema import (
    CASE_COLUMNS,
    CHANNEL_LABELS,
    LEVEL_LABELS,
    PARTY_COLUMNS,
    QUARANTINE_COLUMNS,
    REGION_DEPTH,
    ROW_NUMBER,
    UNCLASSIFIED,
    Channel,
    Level,
    Role,
    Satisfaction,
    Status,
)

IS_TOTAL_ROW = "is_total_row"
EXTRA_CELLS = "extra_cells"
META_COLUMNS = (ROW_NUMBER, IS_TOTAL_ROW, EXTRA_CELLS)
NOTE_COLUMNS = (ROW_NUMBER, "field", "note")
TIME_FIELDS = ("received_at", "registered_at", "due_at", "closed_at", "updated_at")
TEXT_FIELDS = ("handling_unit", "urgency", "content", "summary")
CASE_TEXT_COLUMNS = ("source", "source_id", "channel", "category_code", "category_raw", "region_code", "region_raw",
                     "level", "handling_unit", "status", "satisfaction", "urgency", "content", "summary")
REGION_FIELDS = ("region_district", "region_township", "region_community", "region_grid")
TOTAL_ROW_REASON = "合计行 total row, not a record"
_TRUE = ("是", "true", "yes", "y", "1", "对", "有")
_FALSE = ("否", "false", "no", "n", "0", "无")
WS = " \t\r\n\x0b\x0c\u3000\u00a0\u2002\u2003\u200b"  # literal characters: RE2-native patterns
_WS_RUN = f"[{WS}]+"
_FORMULA = f"^(?:=|[+\\-@][{WS}]*[A-Za-z0-9_(\"'$.!])"
_REGION_SUFFIXES = ("街道办事处", "办事处", "社区居委会", "居委会", "村委会", "街道", "社区", "网格", "区", "县",
                    "市", "镇", "乡", "村")


# --- reference lookups ---------------------------------------------------------------------------
def label_key(text: object) -> str:
    """Comparable form of a label: NFKC, lower-case, without whitespace, punctuation and symbols."""
    if text is None:
        return ""
    s = unicodedata.normalize("NFKC", str(text)).lower()
    return "".join(ch for ch in s if unicodedata.category(ch)[0] in "LN")


def _strip_suffix(key: str) -> str:
    for suf in _REGION_SUFFIXES:
        if key.endswith(suf) and len(key) > len(suf):
            return key[: -len(suf)]
    return key


@dataclass(frozen=True)
class Refs:
    """Lookup tables built once from the configuration (``build_refs``)."""

    city_code: str
    region_parent: Mapping[str, str]
    region_depth: Mapping[str, int]
    region_by_parent: Mapping[tuple[str, str], str]  # (parent code, name key) -> code
    region_by_depth: Mapping[tuple[int, str], tuple[str, ...]]  # (depth, name key) -> codes
    category_by_label: Mapping[str, str]  # label key -> code (leaf, top, "top+leaf")
    category_child: Mapping[tuple[str, str], str]  # (top code, leaf key) -> leaf code
    category_parent: Mapping[str, str]
    min_group_headcount: int
    max_field_chars: int

    def is_under(self, code: str, ancestor: str) -> bool:
        while code:
            if code == ancestor:
                return True
            code = self.region_parent.get(code, "")
        return False


def make_refs(regions: RegionTree, taxonomy: Taxonomy, group: GroupRules, ingest: IngestSettings) -> Refs:
    """Precompute the region, category and rule lookups used by ``normalize_chunk``."""
    by_parent: dict[tuple[str, str], str] = {}
    by_depth: dict[tuple[int, str], list[str]] = {}
    depth = {c: REGION_DEPTH[r.level] for c, r in regions.regions.items()}
    for code, r in regions.regions.items():
        keys = {label_key(r.name), _strip_suffix(label_key(r.name))}
        parent = regions.regions.get(r.parent)
        if parent is not None:  # "丰北社区第1网格" may be written "第1网格"
            pk = label_key(parent.name)
            if label_key(r.name).startswith(pk) and len(label_key(r.name)) > len(pk):
                short = label_key(r.name)[len(pk):]
                keys |= {short, _strip_suffix(short)}
        for k in keys - {""}:
            by_parent.setdefault((r.parent, k), code)
            lst = by_depth.setdefault((depth[code], k), [])
            if code not in lst:
                lst.append(code)
    cats: dict[str, str] = {}
    child: dict[tuple[str, str], str] = {}
    tops = {c.code: c for c in taxonomy.categories.values() if not c.parent}
    for c in taxonomy.categories.values():
        names = [label_key(n) for n in (c.name, *c.aliases)]
        for k in names:
            cats.setdefault(k, c.code)
        if c.parent:
            top = tops[c.parent]
            for k in names:
                child.setdefault((c.parent, k), c.code)
                for t in (top.name, *top.aliases):
                    cats.setdefault(label_key(t) + k, c.code)
    cats.pop("", None)
    return Refs(
        city_code=regions.root, region_parent={c: r.parent for c, r in regions.regions.items()},
        region_depth=depth, region_by_parent=by_parent,
        region_by_depth={k: tuple(v) for k, v in by_depth.items()},
        category_by_label=cats, category_child=child,
        category_parent={c.code: c.parent for c in taxonomy.categories.values()},
        min_group_headcount=group.min_headcount, max_field_chars=ingest.max_field_chars,
    )


def build_refs(settings: Settings) -> Refs:
    """``make_refs`` over the sections of ``settings`` (regions, taxonomy, group rules, ingest limits)."""
    return make_refs(settings.regions, settings.taxonomy, settings.group, settings.ingest)


# --- output --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NormalizedChunk:
    """Result of ``normalize_chunk``; see the module docstring for the columns."""

    cases: pd.DataFrame
    parties: pd.DataFrame
    quarantine: pd.DataFrame
    notes: pd.DataFrame


class _Notes:
    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []

    def add(self, rows: pd.Series | np.ndarray, field: str, note: Any) -> None:
        rows = np.asarray(rows)
        if not len(rows):
            return
        notes = np.asarray(note, dtype=object) if not isinstance(note, str) else np.full(len(rows), note, dtype=object)
        self.parts.append(pd.DataFrame({ROW_NUMBER: rows.astype("int64"), "field": field, "note": notes}))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({ROW_NUMBER: pd.Series(dtype="int64"), "field": pd.Series(dtype=object),
                                 "note": pd.Series(dtype=object)})
        f = pd.concat(self.parts, ignore_index=True)
        f["field"] = f["field"].astype(object)
        f["note"] = f["note"].astype(object)
        if f.duplicated([ROW_NUMBER, "field"]).any():
            f = f.groupby([ROW_NUMBER, "field"], sort=False, as_index=False)["note"].agg("; ".join)
        return f.sort_values([ROW_NUMBER, "field"], kind="stable").reset_index(drop=True)


# --- text helpers --------------------------------------------------------------------------------
def _text(s: pd.Series) -> pd.Series:
    """Stripped text in pandas' ``str`` dtype, missing (NaN) for empty."""
    t = s.astype("str") if s.dtype != "str" else s
    t = t.str.strip()
    return t.where(t != "")


_halfwidth = halfwidth_series


def _obj(s: pd.Series) -> pd.Series:
    """Object dtype with ``None`` for missing."""
    arr = s.to_numpy(dtype=object, na_value=None)
    if s.dtype == object:
        arr = arr.copy()
        arr[pd.isna(arr)] = None
    return pd.Series(arr, index=s.index, dtype=object)


def _clean_free_text(s: pd.Series, field: str, rows: pd.Series, notes: _Notes, limit: int) -> pd.Series:
    t = _text(s)
    present = t.notna()
    if not present.any():
        return t
    t = t.str.replace(_WS_RUN, " ", regex=True)
    formula = t.str.contains(_FORMULA, regex=True).fillna(False).astype(bool)
    if formula.any():
        notes.add(rows[formula], field, "formula-like text: kept verbatim, exports must neutralize it")
    lengths = t.str.len()
    long = (lengths > limit).fillna(False).astype(bool)
    if long.any():
        notes.add(rows[long], field, ("truncated: " + lengths[long].astype(int).astype(str)
                                      + f" chars to {limit}").to_numpy(dtype=object))
        t = t.where(~long, t.str.slice(0, limit))
    return t


# --- dates ---------------------------------------------------------------------------------------
_DATE_RE = (r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<mo>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
            r"(?:[\sT]*(?P<h>\d{1,2})\s*[:时]\s*(?P<mi>\d{1,2})(?:\s*[:分]\s*(?P<s>\d{1,2})(?:[.,](?P<f>\d{1,9}))?\s*秒?)?\s*分?)?"
            r"\s*(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?$")
_COMPACT_RE = r"^(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})(?:\s*T?(?P<h>\d{2}):?(?P<mi>\d{2})(?::?(?P<s>\d{2}))?)?$"
_SERIAL_RE = r"^(?P<v>\d{4,6}(?:\.\d+)?)$"
EXCEL_EPOCH = np.datetime64("1899-12-30T00:00:00", "ns")
SERIAL_RANGE = (18264, 80000)  # 1950-01-01 .. 2119
_NAT = np.datetime64("NaT", "ns")


def _arrow(s: pd.Series) -> pa.Array:
    """The Arrow string array behind a ``str`` Series (a conversion for other dtypes)."""
    arr = pa.array(s.array) if s.dtype == "str" else pa.array(s.to_numpy(dtype=object, na_value=None),
                                                               type=pa.large_string(), from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _extract(s: pd.Series, pattern: str) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """RE2 ``extract_regex`` (native): (matched mask, group name -> string array, "" = not matched)."""
    r = pc.extract_regex(_arrow(s), pattern=pattern)
    ok = r.is_valid().to_numpy(zero_copy_only=False)
    groups = {r.type.field(i).name: r.field(i) for i in range(r.type.num_fields)}
    return ok, groups


def _num(a: pa.Array) -> np.ndarray:
    """Digit strings -> float64 numpy (NaN for null / empty)."""
    a = pc.if_else(pc.equal(a, ""), pa.scalar(None, a.type), a)
    return pc.cast(a, pa.float64()).to_numpy(zero_copy_only=False)


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
    out[~ok] = _NAT
    return out


def _fast_iso(t: pd.Series, out: np.ndarray) -> np.ndarray:
    """Native fast path for ``YYYY-MM-DD HH:MM:SS`` and ``YYYY-MM-DD`` (Arrow strptime; its roll-over of
    impossible days such as 02-30 is rejected by comparing the day back)."""
    arr = _arrow(t)
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
    dt = _assemble(_num(g["y"]), _num(g["mo"]), _num(g["d"]), _num(g["h"]), _num(g["mi"]), _num(g["s"]))
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
    t = _halfwidth(_text(values)).str.replace("：", ":", regex=False)
    present = t.notna().to_numpy()
    out = np.full(len(t), _NAT, dtype="datetime64[ns]")
    if present.any():
        out = _fast_iso(t, out)
        rest = present & np.isnat(out)
        if rest.any():
            sub = t[rest]
            res = np.full(len(sub), _NAT, dtype="datetime64[ns]")
            ok, g = _extract(sub, _DATE_RE)
            if ok.any():
                res = np.where(ok, _date_parts(g), res)
            left = np.isnat(res)
            if left.any():
                ok2, g = _extract(sub, _COMPACT_RE)
                ok2 &= left
                if ok2.any():
                    dt = _assemble(_num(g["y"]), _num(g["mo"]), _num(g["d"]), _num(g["h"]), _num(g["mi"]), _num(g["s"]))
                    res = np.where(ok2, dt, res)
                left &= np.isnat(res)
            if left.any():
                ok3, g = _extract(sub, _SERIAL_RE)
                ok3 &= left
                if ok3.any():
                    v = _num(g["v"])
                    ok3 &= (v >= SERIAL_RANGE[0]) & (v <= SERIAL_RANGE[1])
                    secs = np.round(np.where(ok3, v, 0) * 86400).astype("int64")
                    res = np.where(ok3, EXCEL_EPOCH + secs.astype("timedelta64[s]"), res)
            out[rest] = res
    parsed = pd.Series(out, index=values.index, dtype="datetime64[ns]")
    return parsed, pd.Series(present & np.isnat(out), index=values.index)


# --- numbers and labels ------------------------------------------------------------------------------
def _parse_int(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Integer text (``"3"``, ``"3.0"``, ``" 3 "``, full-width, ``3人``) -> float (NaN when missing/bad), bad mask."""
    t = _halfwidth(_text(values)).str.replace(_WS_RUN, "", regex=True)
    ok, g = _extract(t, r"^\+?(?P<n>\d{1,9})(?:\.0*)?(?:人|次|件)?$")
    num = np.where(ok, _num(g["n"]), np.nan)
    bad = t.notna().to_numpy() & np.isnan(num)
    return pd.Series(num, index=values.index), pd.Series(bad, index=values.index)


def _label_map(mapping: SourceMapping, key: str, enum: type | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, target in mapping.values.get(key, {}).items():
        out[label_key(label)] = target
    if enum is not None:
        for e in enum:  # type: ignore[attr-defined]
            out.setdefault(label_key(e.value), e.value)
    labels: Mapping[Any, str] = {"channel": CHANNEL_LABELS, "level": LEVEL_LABELS}.get(key, {})  # type: ignore[assignment]
    for e, lab in labels.items():
        out.setdefault(label_key(lab), e.value)
    if enum is None:
        for w in _TRUE:
            out.setdefault(label_key(w), True)
        for w in _FALSE:
            out.setdefault(label_key(w), False)
    return out


def _map_labels(values: pd.Series, table: dict[str, Any]) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(mapped object Series with None where missing/unknown, unknown mask, cleaned text)."""
    t = _text(values)
    uniq = t.dropna().unique()
    lut = {u: table.get(label_key(u)) for u in uniq}
    mapped = t.map(lut).astype(object)
    mapped = mapped.where(mapped.notna(), None)
    unknown = t.notna() & mapped.isna()
    return mapped, unknown, t


# --- column lookup -----------------------------------------------------------------------------------
def _columns_for(raw: pd.DataFrame, mapping: SourceMapping) -> dict[str, str]:
    """Canonical field -> raw column: the first header of the mapping's list present in ``raw``."""
    by_key: dict[str, str] = {}
    for c in raw.columns:
        if c in META_COLUMNS:
            continue
        by_key.setdefault("".join(unicodedata.normalize("NFKC", str(c)).split()), c)
    out: dict[str, str] = {}
    for table in (mapping.fields, mapping.party):
        for fld, headers in table.items():
            for h in headers:
                k = "".join(unicodedata.normalize("NFKC", h).split())
                if k in by_key:
                    out[fld] = by_key[k]
                    break
    return out


def _col(raw: pd.DataFrame, cols: Mapping[str, str], field: str) -> pd.Series:
    if field in cols:
        return raw[cols[field]]
    return pd.Series(None, index=raw.index, dtype=object)


class _Texts:
    """Stripped ``str`` Series per canonical field, converted once (all-missing for absent fields)."""

    def __init__(self, raw: pd.DataFrame, cols: Mapping[str, str]) -> None:
        self.raw, self.cols = raw, cols
        self.cache: dict[str, pd.Series] = {}

    def __call__(self, field: str) -> pd.Series:
        if field not in self.cache:
            if field in self.cols:
                self.cache[field] = _text(self.raw[self.cols[field]])
            else:
                self.cache[field] = pd.Series(np.nan, index=self.raw.index, dtype="str")
        return self.cache[field]


# --- categories and regions (resolved per distinct value, then mapped back) ---------------------------
def resolve_category(refs: Refs, label: str | None, l1: str | None, l2: str | None) -> tuple[str, bool]:
    """Category code for a combined label or an (l1, l2) pair; ``(code, known)``."""
    cats = refs.category_by_label
    if label:
        k = label_key(label)
        if k in cats:
            return cats[k], True
        parts = [label_key(p) for p in re.split(r"[-/>›»|\\、:·_—–]+", label) if label_key(p)]
        if len(parts) >= 2:
            top = cats.get(parts[0])
            if top and (top, parts[-1]) in refs.category_child:
                return refs.category_child[(top, parts[-1])], True
            if parts[-1] in cats:
                return cats[parts[-1]], True
            if top and not refs.category_parent.get(top):
                return top, True
    if l1 or l2:
        top = cats.get(label_key(l1)) if l1 else None
        if top and refs.category_parent.get(top):  # l1 was a leaf label
            top = refs.category_parent[top]
        if l2:
            k2 = label_key(l2)
            if top and (top, k2) in refs.category_child:
                return refs.category_child[(top, k2)], True
            if k2 in cats and (not top or refs.category_parent.get(cats[k2]) in (top, "")):
                return cats[k2], True
        if top:
            return top, True
    return UNCLASSIFIED, False


def resolve_region(refs: Refs, code: str | None, names: tuple[str | None, ...]) -> tuple[str, str]:
    """Deepest region code from a code and/or names (district, township, community, grid).

    Returns ``(code, problem)``; ``problem`` is ``""`` when everything written was resolved.
    """
    current = refs.city_code
    problem = ""
    if code:
        c = "".join(ch for ch in unicodedata.normalize("NFKC", code) if ch.isalnum())
        while c and c not in refs.region_depth:
            c = c[:-3] if len(c) > 6 else ""
        if c:
            current = c
            if c != "".join(ch for ch in unicodedata.normalize("NFKC", code) if ch.isalnum()):
                problem = f"region code {code} unknown, kept parent {c}"
        else:
            problem = f"region code {code} unknown"
    for depth, name in enumerate(names, start=1):
        if not name:
            continue
        cur_depth = refs.region_depth.get(current, 0)
        if depth <= cur_depth:
            continue  # the code already went deeper
        key = label_key(name)
        found = None
        if depth == cur_depth + 1:
            found = refs.region_by_parent.get((current, key)) or refs.region_by_parent.get((current, _strip_suffix(key)))
        if found is None:
            cands = [c for k in (key, _strip_suffix(key)) for c in refs.region_by_depth.get((depth, k), ())
                     if refs.is_under(c, current)]
            cands = list(dict.fromkeys(cands))
            found = cands[0] if len(cands) == 1 else None
        if found is None:
            problem = (problem + "; " if problem else "") + f"{name} not found under {current}, kept parent"
            break
        current = found
    if current == refs.city_code and not problem:
        problem = "no region given, city root used" if not (code or any(names)) else "city root used"
    return current, problem


# --- main ------------------------------------------------------------------------------------------
def normalize_chunk(raw: pd.DataFrame, mapping: SourceMapping, refs: Refs, file: str) -> NormalizedChunk:
    """Normalize one raw chunk (see the module docstring for the frames returned).

    Parameters
    ----------
    raw
        Text columns named by header (any header of ``mapping``), ``row_number`` (1-based input row),
        optionally ``is_total_row`` (bool) and ``extra_cells`` (text of cells beyond the header).
    mapping
        The source mapping that names the columns and value labels.
    refs
        ``build_refs(settings)``.
    file
        The input file's name, for error messages.
    """
    if ROW_NUMBER not in raw.columns:
        raise ValueError(f"normalize_chunk({file}): missing column row_number")
    raw = raw.reset_index(drop=True)
    rows = raw[ROW_NUMBER].astype("int64")
    cols = _columns_for(raw, mapping)
    notes = _Notes()

    source_id = _text(_col(raw, cols, "source_id")).str.replace(r"^['=\"]+|\"$", "", regex=True)
    source_id = _text(source_id)
    times = {}
    bad_time = {}
    for f in TIME_FIELDS:
        times[f], bad_time[f] = parse_datetimes(_col(raw, cols, f))

    # --- quarantine ---------------------------------------------------------------------------
    total = raw[IS_TOTAL_ROW].fillna(False).astype(bool) if IS_TOTAL_ROW in raw else pd.Series(False, index=raw.index)
    extra = raw[EXTRA_CELLS].notna() if EXTRA_CELLS in raw else pd.Series(False, index=raw.index)
    no_id = source_id.isna()
    no_date = times["received_at"].isna()
    reason = np.select(
        [total.to_numpy(), extra.to_numpy(), no_id.to_numpy(), bad_time["received_at"].to_numpy(), no_date.to_numpy()],
        [TOTAL_ROW_REASON, "structurally broken row: more cells than headers", "source_id missing or blank",
         "received_at unparseable", "received_at missing"], default="")
    field = np.select(
        [total.to_numpy(), extra.to_numpy(), no_id.to_numpy(), no_date.to_numpy()],
        ["source_id", "row", "source_id", "received_at"], default="")
    bad = reason != ""
    quarantine = _quarantine_frame(raw, rows, bad, field, reason)

    keep = ~bad
    raw = raw[keep].reset_index(drop=True)
    rows = rows[keep].reset_index(drop=True)
    source_id = source_id[keep].reset_index(drop=True)
    for f in TIME_FIELDS:
        times[f] = times[f][keep].reset_index(drop=True)
        b = bad_time[f][keep].reset_index(drop=True)
        if f != "received_at" and b.any():
            txt = _text(_col(raw, cols, f))[b]
            notes.add(rows[b], f, ("unparseable date: " + txt).to_numpy(dtype=object))
    tx = _Texts(raw, cols)
    cases = _case_frame(tx, rows, mapping, refs, source_id, times, notes)
    parties = _party_frame(tx, rows, mapping, cases, notes, refs)
    return NormalizedChunk(cases=cases, parties=parties, quarantine=quarantine, notes=notes.frame())


def _quarantine_frame(raw: pd.DataFrame, rows: pd.Series, bad: np.ndarray, field: np.ndarray,
                      reason: np.ndarray) -> pd.DataFrame:
    if not bad.any():
        return pd.DataFrame({ROW_NUMBER: pd.Series(dtype="int64"), "field": pd.Series(dtype=object),
                             "reason": pd.Series(dtype=object), "raw": pd.Series(dtype=object)})
    data_cols = [c for c in raw.columns if c not in META_COLUMNS]
    sub = raw.loc[bad, data_cols + ([EXTRA_CELLS] if EXTRA_CELLS in raw else [])]
    texts = []
    for rec in sub.itertuples(index=False, name=None):
        d = {}
        for c, v in zip(sub.columns, rec, strict=True):
            v = None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
            if v is None and (c.startswith("_col") or c == EXTRA_CELLS):
                continue
            d[str(c)] = v
        texts.append(json.dumps(d, ensure_ascii=False))
    q = pd.DataFrame({ROW_NUMBER: rows[bad].to_numpy(dtype="int64"), "field": field[bad].astype(object),
                      "reason": reason[bad].astype(object), "raw": np.array(texts, dtype=object)})
    return q[list(QUARANTINE_COLUMNS)]


def _case_frame(tx: _Texts, rows: pd.Series, mapping: SourceMapping,
                refs: Refs, source_id: pd.Series, times: dict[str, pd.Series], notes: _Notes) -> pd.DataFrame:
    n = len(rows)
    limit = refs.max_field_chars
    out: dict[str, Any] = {"source": np.full(n, mapping.name, dtype=object), "source_id": _obj(source_id)}

    ch, unk, t = _map_labels(tx("channel"), _label_map(mapping, "channel", Channel))
    if unk.any():
        notes.add(rows[unk], "channel", ("unknown value: " + t[unk] + f" -> {mapping.default_channel.value}").to_numpy(dtype=object))
    out["channel"] = ch.where(ch.notna(), mapping.default_channel.value).astype(object)
    for f in TIME_FIELDS:
        out[f] = times[f]

    # categories
    cat = (tx("category"))
    l1 = (tx("category_l1"))
    l2 = (tx("category_l2"))
    raw_label = cat.where(cat.notna(), _join([l1, l2], "/"))
    key = pd.DataFrame({"c": _obj(cat), "a": _obj(l1), "b": _obj(l2)})
    codes, known = _resolve_distinct(key, lambda c, a, b: resolve_category(refs, c, a, b))
    unknown = ~known
    if unknown.any():
        txt = raw_label[unknown].fillna("(empty)")
        notes.add(rows[unknown], "category", ("unknown category: " + txt + f" -> {UNCLASSIFIED} 未分类").to_numpy(dtype=object))
    out["category_code"] = codes
    out["category_raw"] = _obj(_clean_free_text(raw_label, "category", rows, notes, limit))

    # regions
    rcode = (tx("region_code"))
    levels = [(tx(f)) for f in REGION_FIELDS]
    rkey = pd.DataFrame({"code": _obj(rcode), **{f: _obj(s) for f, s in zip(REGION_FIELDS, levels, strict=True)}})
    rcodes, problems = _resolve_distinct(rkey, lambda c, *names: resolve_region(refs, c, names))
    has_problem = problems != ""
    if has_problem.any():
        notes.add(rows[has_problem], "region", np.array(["region unresolved: " + str(x) for x in problems[has_problem]], dtype=object))
    out["region_code"] = rcodes
    region_raw = _join(levels, "/")
    region_raw = region_raw.where(region_raw.notna(), rcode)
    out["region_raw"] = _obj(region_raw)

    lv, unk, t = _map_labels(tx("level"), _label_map(mapping, "level", Level))
    if unk.any():
        notes.add(rows[unk], "level", ("unknown value: " + t[unk] + " -> district").to_numpy(dtype=object))
    out["level"] = lv.where(lv.notna(), Level.DISTRICT.value).astype(object)

    head, bad = _parse_int(tx("headcount"))
    small = head.notna() & (head < 1)
    if (bad | small).any():
        m = bad | small
        notes.add(rows[m], "headcount", ("bad number: " + (tx("headcount"))[m].fillna("") + " -> 1").to_numpy(dtype=object))
    headcount = head.where(~small, 1).fillna(1).astype("int64")
    grp, unk, t = _map_labels(tx("is_group"), _label_map(mapping, "is_group", None))
    if unk.any():
        notes.add(rows[unk], "is_group", ("unknown value: " + t[unk] + " -> by headcount").to_numpy(dtype=object))
    out["is_group"] = (grp.eq(True).fillna(False).astype(bool) | (headcount >= refs.min_group_headcount)).to_numpy(dtype=bool)
    out["headcount"] = headcount.to_numpy(dtype="int64")

    for f in ("handling_unit",):
        out[f] = _obj(_clean_free_text(tx(f), f, rows, notes, limit))
    st, unk, t = _map_labels(tx("status"), _label_map(mapping, "status", Status))
    closed = times["closed_at"].notna()
    default_status = pd.Series(np.where(closed, Status.CLOSED.value, Status.RECEIVED.value), index=st.index)
    if unk.any():
        notes.add(rows[unk], "status", ("unknown value: " + t[unk] + " -> " + default_status[unk]).to_numpy(dtype=object))
    out["status"] = st.where(st.notna(), default_status).astype(object)
    res, unk, t = _map_labels(tx("resolved"), _label_map(mapping, "resolved", None))
    if unk.any():
        notes.add(rows[unk], "resolved", ("unknown value: " + t[unk] + " -> null").to_numpy(dtype=object))
    out["resolved"] = pd.array(res.where(res.notna(), None).tolist(), dtype="boolean")
    sat, unk, t = _map_labels(tx("satisfaction"), _label_map(mapping, "satisfaction", Satisfaction))
    if unk.any():
        notes.add(rows[unk], "satisfaction", ("unknown value: " + t[unk] + " -> none").to_numpy(dtype=object))
    out["satisfaction"] = sat.where(sat.notna(), Satisfaction.NONE.value).astype(object)
    ret, bad = _parse_int(tx("returned_count"))
    if bad.any():
        notes.add(rows[bad], "returned_count", ("bad number: " + (tx("returned_count"))[bad] + " -> 0").to_numpy(dtype=object))
    out["returned_count"] = ret.fillna(0).astype("int64").to_numpy()
    for f in ("urgency", "content", "summary"):
        out[f] = _obj(_clean_free_text(tx(f), f, rows, notes, limit))
    out[ROW_NUMBER] = rows.to_numpy(dtype="int64")
    cases = pd.DataFrame({c: out[c] for c in CASE_COLUMNS})
    for f in TIME_FIELDS:
        cases[f] = cases[f].astype("datetime64[ns]")
    for f in CASE_TEXT_COLUMNS:
        cases[f] = _obj(cases[f])
    return cases


def _join(parts: list[pd.Series], sep: str) -> pd.Series:
    """Non-missing parts joined with ``sep`` per row; missing when all parts are."""
    acc: pd.Series | None = None
    for p in parts:
        p = p.astype("str") if p.dtype != "str" else p
        if acc is None:
            acc = p
        else:
            both = acc.notna() & p.notna()
            acc = acc.where(~both, acc + sep + p).where(acc.notna(), p)
    assert acc is not None
    return acc


def _resolve_distinct(key: pd.DataFrame, fn: Any) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``fn(*row)`` once per distinct row of ``key``; returns the two result arrays per row."""
    if not len(key):
        return np.array([], dtype=object), np.array([], dtype=object)
    filled = key.astype(object).fillna("\x00").astype(str)
    joined = filled.iloc[:, 0]
    for col in filled.columns[1:]:
        joined = joined + "\x1f" + filled[col]
    codes, uniq = pd.factorize(joined)  # one string per row factorizes far faster than a MultiIndex
    a, b = [], []
    for text in uniq:
        r = fn(*[None if v == "\x00" else v for v in str(text).split("\x1f")])
        a.append(r[0])
        b.append(r[1])
    first = np.array(a, dtype=object)[codes]
    second = np.array(b, dtype=object)[codes]
    if second.dtype == object and len(second) and isinstance(b[0], bool | np.bool_):
        second = second.astype(bool)
    return first, second


def _party_frame(tx: _Texts, rows: pd.Series, mapping: SourceMapping,
                 cases: pd.DataFrame, notes: _Notes, refs: Refs) -> pd.DataFrame:
    limit = refs.max_field_chars
    name = _clean_free_text(tx("name"), "name", rows, notes, limit)
    ids = (tx("id_number"))
    phone = (tx("phone"))
    address = _clean_free_text(tx("address"), "address", rows, notes, limit)
    account = (tx("account_id"))
    has = (name.notna() | ids.notna() | phone.notna()).to_numpy()
    first = pd.DataFrame({
        "_i": np.flatnonzero(has), "seq": 0, "role": Role.PETITIONER.value,
        "name": _obj(name[has]).to_numpy(), "id_raw": _obj(ids[has]).to_numpy(), "phone_raw": _obj(phone[has]).to_numpy(),
        "address": _obj(address[has]).to_numpy(), "account_id": _obj(account[has]).to_numpy(),
    })
    frames = [first]
    co = (tx("co_parties"))
    if co.notna().any():
        frames.append(_co_parties(co, rows, notes))
    p = pd.concat(frames, ignore_index=True) if len(frames) > 1 else first
    idn, idv = normalize_id_numbers(p["id_raw"])
    ph, phv = normalize_phones(p["phone_raw"])
    p_rows = rows.to_numpy()[p["_i"].to_numpy(dtype="int64")]
    bad_id = (idn.notna() & ~idv).to_numpy()
    bad_ph = (ph.notna() & ~phv).to_numpy()
    for mask, fld0, kind in ((bad_id, "id_number", "invalid id number: kept as "), (bad_ph, "phone", "phone not normalizable: kept as ")):
        if mask.any():
            vals = (idn if fld0 == "id_number" else ph)[mask]
            flds = np.where(p["seq"].to_numpy()[mask] == 0, fld0, "co_parties")
            for f in (fld0, "co_parties"):
                sel = flds == f
                if sel.any():
                    notes.add(p_rows[mask][sel], f, (kind + vals[sel].astype(str)).to_numpy(dtype=object))
    idx = p["_i"].to_numpy(dtype="int64")
    out = pd.DataFrame({
        "source": np.full(len(p), mapping.name, dtype=object),
        "source_id": cases["source_id"].to_numpy(dtype=object)[idx],
        "seq": p["seq"].astype("int64").to_numpy(),
        "role": p["role"].astype(object).to_numpy(),
        "name": p["name"].to_numpy(dtype=object),
        "id_number": idn.to_numpy(dtype=object), "id_valid": idv.to_numpy(dtype=bool),
        "phone": ph.to_numpy(dtype=object), "phone_valid": phv.to_numpy(dtype=bool),
        "address": p["address"].to_numpy(dtype=object),
        "region_code": cases["region_code"].to_numpy(dtype=object)[idx],
        "account_id": p["account_id"].to_numpy(dtype=object),
        ROW_NUMBER: p_rows.astype("int64"),
    })
    out = out.sort_values([ROW_NUMBER, "seq"], kind="stable").reset_index(drop=True)
    for c in ("source", "source_id", "role", "name", "id_number", "phone", "address", "region_code", "account_id"):
        out[c] = _obj(out[c])
    return out[[*PARTY_COLUMNS, ROW_NUMBER]]


def _co_parties(co: pd.Series, rows: pd.Series, notes: _Notes) -> pd.DataFrame:
    """``姓名|证件号码|联系电话|住址`` entries separated by ``；``/``;`` -> party rows (seq 1..)."""
    s = co.dropna()
    parts = s.str.split(r"[；;]", regex=True).explode()
    parts = _text(parts.astype("str")).dropna()
    if not len(parts):
        return pd.DataFrame(columns=["_i", "seq", "role", "name", "id_raw", "phone_raw", "address", "account_id"])
    fields = parts.str.split("|", n=3, expand=True, regex=False).reindex(columns=range(4))
    fields = fields.apply(_text)
    empty = fields.isna().all(axis=1)
    many = parts.str.count(r"\|") > 3
    if many.any():
        notes.add(rows.to_numpy()[many[many].index.to_numpy()], "co_parties", "broken co-party: more than 4 parts, rest kept in address")
    fields = fields[~empty]
    idx = fields.index.to_numpy(dtype="int64")
    seq = pd.Series(idx).groupby(idx).cumcount().to_numpy() + 1
    return pd.DataFrame({
        "_i": idx, "seq": seq, "role": Role.CO_PETITIONER.value,
        "name": _obj(fields[0]).to_numpy(), "id_raw": _obj(fields[1]).to_numpy(),
        "phone_raw": _obj(fields[2]).to_numpy(), "address": _obj(fields[3]).to_numpy(),
        "account_id": np.full(len(fields), None, dtype=object),
    })
