"""Pieces the monthly report and the weekly briefing share: labels, traced counts over a case frame, the
ledger's tables, the volume signals with their charts, the forecast of the coming weeks or month and the
sensitive dates ahead. Pure: frames in, ``document`` blocks out (charts as SVG bytes through
``report.figures``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from riskwatch import calendar as cal
from riskwatch import schema as S
from riskwatch.assign.lifecycle import CLOSED, STATUS_LABELS, Status
from riskwatch.indicators import pct
from riskwatch.report import figures
from riskwatch.report.assignment_lists import region_label, subject_label
from riskwatch.report.document import Cell, Figure, Paragraph, Sentence, Table, trace_of
from riskwatch.report.inputs import ReportInputs

VOLUME_KINDS = (S.SignalKind.SPIKE.value, S.SignalKind.RISE.value, S.SignalKind.LEVEL_SHIFT.value)
GRADES = (S.Grade.RED, S.Grade.YELLOW, S.Grade.BLUE)
CLOSED_STATUSES = frozenset(s.value for s in CLOSED)
CASE_LIST_COLUMNS = {S.RECEIVED_AT: "受理时间", S.CHANNEL: "渠道", S.CATEGORY_CODE: "类别", S.LEVEL: "到达层级",
                     S.STATUS: "状态"}
SIGNAL_CHARTS = 4          # volume signals drawn one by one; the rest are listed
SIGNAL_WEEKS = 26          # weeks of history each signal chart shows


def keys_of(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(frame[S.SOURCE].astype(str), frame[S.SOURCE_ID].astype(str), strict=True))


def split_keys(keys: Iterable[str]) -> list[tuple[str, str]]:
    """``source:source_id`` strings (the ledger's ``case_keys``) as case keys."""
    out = []
    for k in keys:
        source, _, source_id = str(k).partition(":")
        out.append((source, source_id))
    return out


def change_cell(cur: int, base: int) -> Cell:
    """A change as a percentage cell (``—`` when the base is 0); the value a fraction."""
    if not base:
        return Cell("—")
    x = (cur - base) / base
    return Cell(pct(x), round(x, 4))


def rate_cell(num: int, den: int) -> Cell:
    if not den:
        return Cell("—")
    return Cell(f"{num / den * 100:.1f}%", round(num / den, 4))


def category_name(inputs: ReportInputs, code: object) -> str:
    text = "" if code is None or code != code else str(code)
    if text in ("", "*"):
        return "全部类别"
    return inputs.taxonomy.label(text) if text in inputs.taxonomy.categories else text


def channel_name(code: object) -> str:
    text = str(code)
    return S.CHANNEL_LABELS[S.Channel(text)] if text in S.Channel._value2member_map_ else text


def level_name(code: object) -> str:
    text = str(code)
    return S.LEVEL_LABELS[S.Level(text)] if text in S.Level._value2member_map_ else text


def series_cases(cases: pd.DataFrame, series_id: str) -> pd.DataFrame:
    """The cases of a series ``<freq>:<category or *>:<region>`` (codes extend their parents' codes)."""
    parts = str(series_id).split(":")
    cat, region = (parts[1], parts[2]) if len(parts) == 3 else ("*", "")
    mask = pd.Series(True, index=cases.index)
    if cat != "*":
        mask &= cases[S.CATEGORY_CODE].astype(str).str.startswith(cat)
    if region:
        mask &= cases[S.REGION_CODE].astype(str).str.startswith(region)
    return cases[mask]


def series_name(inputs: ReportInputs, series_id: str) -> str:
    parts = str(series_id).split(":")
    if len(parts) != 3:
        return str(series_id)
    return f"{category_name(inputs, parts[1])} · {region_label(inputs.regions, parts[2]) or inputs.city}"


def week_label(ds: pd.Timestamp) -> str:
    return f"{ds.month}月{ds.day}日当周"


# --- volume signals ---------------------------------------------------------------------------------
def signal_blocks(inputs: ReportInputs, prefix: str, charts: int = SIGNAL_CHARTS) -> list[Paragraph | Table | Figure]:
    """The period's spikes, rises and level shifts: a table of all (the week's cases traced), then the
    first ``charts`` of them each with its chart and its sentence."""
    sig = inputs.signals
    if sig.empty:
        return [Paragraph.of("本期各类别、各区域受理量未出现统计意义上的突增、持续上升或水平变化。")]
    sig = sig.sort_values(["p_value", "observed"], ascending=[True, False], na_position="last", kind="stable")
    rows, blocks = [], []
    for i, s in enumerate(sig.itertuples(index=False)):
        period = pd.Timestamp(s.period)
        week = series_cases(inputs.cases, s.subject)
        week = week[(week[S.RECEIVED_AT] >= period) & (week[S.RECEIVED_AT] < period + pd.Timedelta(days=7))]
        kind = S.SIGNAL_KIND_LABELS.get(S.SignalKind(s.kind), s.kind) if s.kind in S.SignalKind._value2member_map_ \
            else s.kind
        rows.append((Cell.of(i + 1), Cell(kind), Cell(series_name(inputs, s.subject)), Cell(week_label(period)),
                     Cell.count(keys_of(week)), Cell.of(_num(s.expected), "{:.1f}"), Cell.of(_num(s.upper), "{:.0f}"),
                     Cell("持续" if s.status == "ongoing" else "新出现" if s.status == "opened" else "已回落")))
    table = Table(f"{prefix}-signals", "本期受理量预警信号", ("序号", "类型", "类别 · 区域", "周", "受理件数", "预期", "预警上限",
                                                         "状态"), tuple(rows), widths=(0, 0, 3, 1.4, 1, 0.8, 1, 0.8),
                  label_column=2, note="受理件数为截至报告日录入的该周案件；预期与上限为检测时的统计基线。")
    blocks.append(table)
    for i, s in enumerate(sig.head(charts).itertuples(index=False)):
        period = pd.Timestamp(s.period)
        of_series = series_cases(inputs.cases, s.subject)
        weeks = weekly_counts(of_series, period - pd.Timedelta(weeks=SIGNAL_WEEKS - 1), period + pd.Timedelta(days=6))
        fig_id = f"{prefix}-signal-{i + 1}"
        in_week = of_series[(of_series[S.RECEIVED_AT] >= period) & (of_series[S.RECEIVED_AT] < period + pd.Timedelta(days=7))]
        blocks.append(Figure(fig_id, f"{series_name(inputs, s.subject)}：近 {SIGNAL_WEEKS} 周每周受理量",
                             figures.signal_chart(weeks, period, _num(s.expected), _num(s.upper)),
                             trace=trace_of(keys_of(in_week))))
        blocks.append(Paragraph((Sentence(str(s.sentence).rstrip("。") + "。", ref=fig_id),)))
    return blocks


def _num(x: object) -> float | None:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def weekly_counts(cases: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """``ds, y``: cases received per week (Monday start) from ``start``'s week to ``end``, zeros kept."""
    monday = (start - pd.Timedelta(days=start.weekday())).normalize()
    index = pd.date_range(monday, end, freq="W-MON")
    got = cases[(cases[S.RECEIVED_AT] >= monday) & (cases[S.RECEIVED_AT] <= end)]
    weeks = got[S.RECEIVED_AT].dt.normalize() - pd.to_timedelta(got[S.RECEIVED_AT].dt.day_of_week, unit="D")
    counts = weeks.value_counts().reindex(index, fill_value=0)
    return pd.DataFrame({"ds": index, "y": counts.to_numpy()})


# --- the ledger -------------------------------------------------------------------------------------
def ledger_frame(inputs: ReportInputs) -> pd.DataFrame:
    """The items as they stood at ``as_of`` (grade, owner, deadline, status from their history) with their
    description (subject, category, region, sentence, cases)."""
    if inputs.ledger.empty or inputs.items.empty:
        return pd.DataFrame(columns=[S.ITEM_KEY, "grade", "owner_id", "due_at", "status", "subject_kind",
                                     "subject_id", "category_code", "region_code", "sentence", "case_keys"])
    info = inputs.items[[S.ITEM_KEY, "subject_kind", "subject_id", "category_code", "region_code", "sentence",
                         "case_keys"]]
    out = inputs.ledger.merge(info, on=S.ITEM_KEY, how="inner")
    out["due_at"] = pd.to_datetime(out["due_at"])
    return out


def period_events(inputs: ReportInputs, kinds: Sequence[str]) -> pd.DataFrame:
    ev = inputs.events
    if ev.empty:
        return ev
    at = pd.to_datetime(ev["at"])
    # a run "as of the next day 00:00" is what was known at the end of the as-of's day (as pipeline.report reads)
    known = inputs.as_of.normalize() + pd.Timedelta(days=1)
    return ev[(at >= inputs.start) & (at <= known) & ev["kind"].isin(list(kinds))]


def ledger_counts_table(inputs: ReportInputs, table_id: str, period_word: str) -> Table:
    """Items by grade: open, new in the period, resolved in the period, overdue, escalated in the period."""
    led = ledger_frame(inputs)
    new = set(period_events(inputs, ["opened"])[S.ITEM_KEY])
    done = set(period_events(inputs, ["resolve", "verify"])[S.ITEM_KEY])
    up = set(period_events(inputs, ["escalated", "graded_up"])[S.ITEM_KEY])
    rows = []
    total = [0] * 5
    for grade in GRADES:
        mine = led[led["grade"] == grade.value]
        open_ = mine[~mine["status"].isin(CLOSED_STATUSES)]
        overdue = open_[open_["due_at"].notna() & (open_["due_at"] < inputs.as_of)]
        counts = [len(open_), int(mine[S.ITEM_KEY].isin(new).sum()), int(mine[S.ITEM_KEY].isin(done).sum()),
                  len(overdue), int(mine[S.ITEM_KEY].isin(up).sum())]
        total = [a + b for a, b in zip(total, counts, strict=True)]
        rows.append((Cell(S.GRADE_LABELS[grade]), *(Cell.of(n) for n in counts),
                     Cell.count(split_keys(k for ks in open_["case_keys"] for k in ks))))
    rows.append((Cell("合计"), *(Cell.of(n) for n in total),
                 Cell.count(split_keys(k for ks in led.loc[~led["status"].isin(CLOSED_STATUSES), "case_keys"]
                                       for k in ks))))
    return Table(table_id, "风险台账（事项数）", ("等级", "在办", f"{period_word}新增", f"{period_word}化解", "逾期",
                                           f"{period_word}升级", "在办事项涉及案件"), tuple(rows),
                 note="在办：截至报告日未化解、未排除的事项；逾期：在办且已过化解期限；升级：因逾期或新证据上调一级。")


def items_table(inputs: ReportInputs, items: pd.DataFrame, table_id: str, caption: str, empty: str,
                why: bool = True) -> Table:
    """A list of items: grade, subject, region, owner, deadline, status, why (unless not ``why``), their cases."""
    staff = {m.id: m for m in inputs.staff}
    order = items.assign(_r=items["grade"].map({g.value: i for i, g in enumerate(GRADES)}),
                         _d=pd.to_datetime(items["due_at"])).sort_values(["_r", "_d", S.ITEM_KEY])
    rows = []
    for n, it in enumerate(order.itertuples(index=False), start=1):
        owner = staff.get(str(it.owner_id)) if it.owner_id == it.owner_id else None
        rows.append((Cell.of(n), Cell(S.GRADE_LABELS[S.Grade(it.grade)]),
                     Cell(subject_label(it, inputs.taxonomy, inputs.regions, inputs.person_names)),
                     Cell(region_label(inputs.regions, it.region_code)),
                     Cell(f"{owner.name}（{owner.title}）" if owner else "待交办"),
                     Cell.of(pd.Timestamp(it.due_at).date() if pd.notna(it.due_at) else None),
                     Cell(STATUS_LABELS[Status(it.status)] if it.status in Status._value2member_map_ else ""),
                     *((Cell(str(it.sentence)),) if why else ()), Cell.count(split_keys(it.case_keys))))
    if why:
        columns = ("序号", "等级", "事项", "区域", "包案人", "化解期限", "状态", "研判依据", "涉及案件")
        widths: tuple[float, ...] = (0, 0, 1.9, 1.6, 1.7, 1.9, 1.3, 4.2, 0.9)
    else:
        columns = ("序号", "等级", "事项", "区域", "包案人", "化解期限", "状态", "涉及案件")
        widths = (0, 0, 2.6, 2.2, 2.4, 1.7, 1.3, 1)
    return Table(table_id, caption, columns, tuple(rows), widths=widths, label_column=2, empty=empty)


# --- forecast ---------------------------------------------------------------------------------------
def city_top_series(inputs: ReportInputs) -> pd.DataFrame:
    """The forecast series of the whole city: all categories and each top-level category."""
    fs = inputs.forecast_series
    if fs.empty:
        return fs
    root = inputs.regions.root
    return fs[(fs["region"] == root) & fs["category_level"].isin(["all", "top"])].sort_values("series_id")


def forecast_over(inputs: ReportInputs, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Per city series the forecast summed over ``[start, end]``: weekly values weighted by the share of
    their days inside (``series_id, yhat`` and the interval columns, summed: a conservative interval)."""
    series = city_top_series(inputs)
    fv = inputs.forecast_values
    if series.empty or fv.empty:
        return pd.DataFrame(columns=["series_id", S.YHAT, *S.INTERVAL_COLUMNS])
    fv = fv[fv["series_id"].isin(series["series_id"])].copy()
    ds = pd.to_datetime(fv["ds"])
    step = pd.Timedelta(days=7)
    lo = np.maximum(ds, start)
    hi = np.minimum(ds + step, end.normalize() + pd.Timedelta(days=1))
    fv["w"] = ((hi - lo).dt.days.clip(lower=0)) / 7.0
    fv = fv[fv["w"] > 0]
    cols = [S.YHAT, *S.INTERVAL_COLUMNS]
    for c in cols:
        fv[c] = fv[c].astype(float) * fv["w"]
    out = fv.groupby("series_id")[cols].sum().reset_index()
    covered = fv.groupby("series_id")["w"].sum()
    days = (end.normalize() - start.normalize()).days + 1
    # only series the run covers for the whole span
    return out[out["series_id"].map(covered).fillna(0) * 7 >= days - 0.5]


def sensitive_ahead(inputs: ReportInputs, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """The sensitive windows whose lead-in or window overlaps ``[start, end]``."""
    w = inputs.windows
    if w.empty:
        return w
    return w[(w[cal.LEAD_START] <= end) & (w[cal.WINDOW_END] >= start)].sort_values([cal.WINDOW_START, cal.PERIOD_ID])


def holidays_in(inputs: ReportInputs, start: pd.Timestamp, end: pd.Timestamp) -> list[str]:
    names: list[str] = []
    for d, name in sorted(inputs.holidays.items()):
        if start.date() <= d <= end.date():
            short = str(name).split("（")[0].split("(")[0].strip()
            if short and short not in names:
                names.append(short)
    return names


def signed_pct(x: float) -> str:
    """``+12%`` / ``-3%`` / ``持平`` for a change under half a per cent."""
    return "持平" if abs(x) < 0.005 else f"{x * 100:+.0f}%"


def day_span(a: pd.Timestamp, b: pd.Timestamp) -> str:
    return f"{a.month}月{a.day}日" if a == b else f"{a.month}月{a.day}日至{b.month}月{b.day}日"


def status_text(status: object) -> str:
    return STATUS_LABELS[Status(str(status))] if str(status) in Status._value2member_map_ else ""
