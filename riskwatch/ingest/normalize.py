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
    unparseable ``received_at``, total row, structurally broken row, a record the reader could not take
    as it stands: ``read_problem``, e.g. an unclosed quote); ``raw`` is the JSON text of the
    whole input row (header -> text, ``ensure_ascii=False``).
``notes``
    ``row_number, field, note``: non-fatal fixes, at most one per (row, field) (several are joined with
    ``"; "``). A note reads ``"<kind>: <detail>"``; kinds: ``invalid id number``, ``phone not
    normalizable``, ``unknown category``, ``region unresolved``, ``unknown value``, ``unparseable date``,
    ``bad number``, ``truncated``, ``formula-like text``, ``broken co-party``, and on field ``row`` ``read``
    (the reader's ``read_note``: NUL bytes removed, undecodable bytes replaced, a record split by a bare
    line break joined, a short record).

Every input row ends up in exactly one of ``cases`` and ``quarantine``; the same ``source_id`` twice in a
chunk gives two case rows (the store orders versions). Free text is stored verbatim, including
formula-like text (``=cmd|' /C calc'!A0``): it is flagged with a note here, and every export (XLSX/CSV
writers in ``report/``) must neutralize it (prefix ``'``) before writing a cell.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskwatch.config import SourceMapping
from riskwatch.identity import halfwidth_series, normalize_id_numbers, normalize_phones
from riskwatch.ingest.dates import parse_datetimes
from riskwatch.ingest.refs import (
    Refs,
    label_key,
    resolve_category,
    resolve_distinct,
    resolve_region,
)
from riskwatch.schema import (
    CASE_COLUMNS,
    CHANNEL_LABELS,
    EXTRA_CELLS,
    IS_TOTAL_ROW,
    LEVEL_LABELS,
    PARTY_COLUMNS,
    QUARANTINE_COLUMNS,
    READ_NOTE,
    READ_PROBLEM,
    ROW_NUMBER,
    UNCLASSIFIED,
    Channel,
    Level,
    Role,
    Satisfaction,
    Status,
)
from riskwatch.text import WS, WS_RUN, extract_groups, strip_text, to_float

META_COLUMNS = (ROW_NUMBER, IS_TOTAL_ROW, EXTRA_CELLS, READ_PROBLEM, READ_NOTE)
NOTE_COLUMNS = (ROW_NUMBER, "field", "note")
TIME_FIELDS = ("received_at", "registered_at", "due_at", "closed_at", "updated_at")
TEXT_FIELDS = ("handling_unit", "urgency", "content", "summary")
CASE_TEXT_COLUMNS = ("source", "source_id", "channel", "category_code", "category_raw", "region_code", "region_raw",
                     "level", "handling_unit", "status", "satisfaction", "urgency", "content", "summary")
REGION_FIELDS = ("region_district", "region_township", "region_community", "region_grid")
TOTAL_ROW_REASON = "合计行 total row, not a record"
_TRUE = ("是", "true", "yes", "y", "1", "对", "有")
_FALSE = ("否", "false", "no", "n", "0", "无")
_FORMULA = f"^(?:=|[+\\-@][{WS}]*[A-Za-z0-9_(\"'$.!])"


# --- reference lookups ---------------------------------------------------------------------------


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


def _obj(s: pd.Series) -> pd.Series:
    """Object dtype with ``None`` for missing."""
    arr = s.to_numpy(dtype=object, na_value=None)
    if s.dtype == object:
        arr = arr.copy()
        arr[pd.isna(arr)] = None
    return pd.Series(arr, index=s.index, dtype=object)


def _clean_free_text(s: pd.Series, field: str, rows: pd.Series, notes: _Notes, limit: int) -> pd.Series:
    t = strip_text(s)
    present = t.notna()
    if not present.any():
        return t
    t = t.str.replace(WS_RUN, " ", regex=True)
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


# --- numbers and labels ------------------------------------------------------------------------------
def _parse_int(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Integer text (``"3"``, ``"3.0"``, ``" 3 "``, full-width, ``3人``) -> float (NaN when missing/bad), bad mask."""
    t = halfwidth_series(strip_text(values)).str.replace(WS_RUN, "", regex=True)
    ok, g = extract_groups(t, r"^\+?(?P<n>\d{1,9})(?:\.0*)?(?:人|次|件)?$")
    num = np.where(ok, to_float(g["n"]), np.nan)
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
    t = strip_text(values)
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
                self.cache[field] = strip_text(self.raw[self.cols[field]])
            else:
                self.cache[field] = pd.Series(np.nan, index=self.raw.index, dtype="str")
        return self.cache[field]


# --- categories and regions (resolved per distinct value, then mapped back) ---------------------------


# --- main ------------------------------------------------------------------------------------------
def normalize_chunk(raw: pd.DataFrame, mapping: SourceMapping, refs: Refs, file: str,
                    latest: pd.Timestamp | None = None) -> NormalizedChunk:
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
    latest
        The latest plausible time (the ingest's own time, with a day's grace for clocks): a receipt after
        it, or before ``refs.earliest_received``, is quarantined; any other time outside that window is
        noted and left blank (1899-12-31 and 2099-01-01 are placeholders, not dates).
    """
    if ROW_NUMBER not in raw.columns:
        raise ValueError(f"normalize_chunk({file}): missing column row_number")
    raw = raw.reset_index(drop=True)
    rows = raw[ROW_NUMBER].astype("int64")
    cols = _columns_for(raw, mapping)
    notes = _Notes()

    source_id = strip_text(_col(raw, cols, "source_id")).str.replace(r"^['=\"]+|\"$", "", regex=True)
    source_id = strip_text(source_id)
    times = {}
    bad_time = {}
    for f in TIME_FIELDS:
        times[f], bad_time[f] = parse_datetimes(_col(raw, cols, f))

    # --- quarantine ---------------------------------------------------------------------------
    total = raw[IS_TOTAL_ROW].fillna(False).astype(bool) if IS_TOTAL_ROW in raw else pd.Series(False, index=raw.index)
    extra = raw[EXTRA_CELLS].notna() if EXTRA_CELLS in raw else pd.Series(False, index=raw.index)
    broken = raw[READ_PROBLEM].notna() if READ_PROBLEM in raw else pd.Series(False, index=raw.index)
    broken_reason = raw[READ_PROBLEM].fillna("").astype(str) if READ_PROBLEM in raw else ""
    if READ_NOTE in raw:
        repaired = (raw[READ_NOTE].notna() & ~broken).to_numpy()
        notes.add(rows[repaired], "row", ("read: " + raw[READ_NOTE][repaired].astype(str)).to_numpy(dtype=object))
    no_id = source_id.isna()
    no_date = times["received_at"].isna()
    early, late = _outside(times["received_at"], refs.earliest_received, latest)
    reason = np.select(
        [broken.to_numpy(), total.to_numpy(), extra.to_numpy(), no_id.to_numpy(), bad_time["received_at"].to_numpy(), no_date.to_numpy(),
         early, late],
        [broken_reason, TOTAL_ROW_REASON, "structurally broken row: more cells than headers", "source_id missing or blank",
         "received_at unparseable", "received_at missing",
         f"received_at before {refs.earliest_received:%Y-%m-%d} ([ingest] earliest_received): not a plausible receipt",
         f"received_at after {latest:%Y-%m-%d %H:%M} (the time of ingest): a receipt cannot be in the future"
         if latest is not None else ""],
        default="")
    field = np.select(
        [broken.to_numpy(), total.to_numpy(), extra.to_numpy(), no_id.to_numpy(), no_date.to_numpy() | early | late],
        ["row", "source_id", "row", "source_id", "received_at"], default="")
    bad = reason != ""
    quarantine = _quarantine_frame(raw, rows, bad, field, reason)

    keep = ~bad
    raw = raw[keep].reset_index(drop=True)
    rows = rows[keep].reset_index(drop=True)
    source_id = source_id[keep].reset_index(drop=True)
    for f in TIME_FIELDS:
        times[f] = times[f][keep].reset_index(drop=True)
        b = bad_time[f][keep].reset_index(drop=True)
        if f == "received_at":   # its problems quarantined the row above
            continue
        if b.any():
            txt = strip_text(_col(raw, cols, f))[b]
            notes.add(rows[b], f, ("unparseable date: " + txt).to_numpy(dtype=object))
        early, late = _outside(times[f], refs.earliest_received, latest)
        odd = early | late
        if odd.any():
            shown = times[f][odd].dt.strftime("%Y-%m-%d %H:%M")
            notes.add(rows[odd], f, ("implausible date left blank: " + shown).to_numpy(dtype=object))
            times[f] = times[f].mask(pd.Series(odd, index=times[f].index))
    tx = _Texts(raw, cols)
    cases = _case_frame(tx, rows, mapping, refs, source_id, times, notes)
    parties = _party_frame(tx, rows, mapping, cases, notes, refs)
    return NormalizedChunk(cases=cases, parties=parties, quarantine=quarantine, notes=notes.frame())


def _outside(times: pd.Series, earliest: pd.Timestamp, latest: pd.Timestamp | None) -> tuple[np.ndarray, np.ndarray]:
    """(before ``earliest``, after ``latest``) masks of parsed times; missing times are neither."""
    early = (times < earliest).fillna(False).to_numpy(dtype=bool)
    late = (times > latest).fillna(False).to_numpy(dtype=bool) if latest is not None else np.zeros(len(times), bool)
    return early, late


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
    codes, known = resolve_distinct(key, lambda c, a, b: resolve_category(refs, c, a, b))
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
    rcodes, problems = resolve_distinct(rkey, lambda c, *names: resolve_region(refs, c, names))
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
    parts = strip_text(parts.astype("str")).dropna()
    if not len(parts):
        return pd.DataFrame(columns=["_i", "seq", "role", "name", "id_raw", "phone_raw", "address", "account_id"])
    fields = parts.str.split("|", n=3, expand=True, regex=False).reindex(columns=range(4))
    fields = fields.apply(strip_text)
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
