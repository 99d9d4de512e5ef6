"""The Monday briefing (每周一风险研判会简报) as a ``Document(contents=False)``: two to four pages, pure, over
``ReportInputs`` whose period is an ISO week (Monday to Sunday).

一、本周概况 (this week against last week, by category); 二、新增及升级的红黄事项 (with owners); 三、本周预警信号
(spikes, rises, shifts with their chart); 四、未来几周预测; 五、近期敏感节点.
"""

from __future__ import annotations

import pandas as pd

from riskwatch import calendar as cal
from riskwatch import schema as S
from riskwatch.report.document import (
    Cell,
    Document,
    Paragraph,
    Section,
    Sentence,
    Table,
    case_details,
    trace_of,
)
from riskwatch.report.inputs import ReportInputs
from riskwatch.report.sections import (
    CASE_LIST_COLUMNS,
    category_name,
    change_cell,
    city_top_series,
    day_span,
    keys_of,
    ledger_counts_table,
    ledger_frame,
    period_events,
    sensitive_ahead,
    signal_blocks,
    status_text,
)

FORECAST_WEEKS = 4
AHEAD_DAYS = 42


BRIEFING_ITEMS = 10  # new and raised red / yellow items listed with their reasons


def week_title(week: pd.Period) -> str:
    iso = week.start_time.isocalendar()
    end = week.start_time + pd.Timedelta(days=6)
    return f"{iso.year}年第{iso.week}周（{day_span(week.start_time, end)}）"


def build_weekly(inputs: ReportInputs) -> Document:
    """The week's briefing; a week without cases gives a document that says so."""
    week = inputs.period
    title = f"{inputs.city}每周风险研判简报"
    period = week_title(week)
    cases = inputs.cases
    this = cases[(cases[S.RECEIVED_AT] >= inputs.start) & (cases[S.RECEIVED_AT] <= inputs.end)] if len(cases) else cases
    if this.empty:
        return Document(title, period, inputs.as_of.date(), issuer=inputs.issuer, contents=False,
                        empty=f"{period}（截至 {inputs.as_of:%Y-%m-%d}）库中无受理记录，本期不生成研判内容。")
    sections = (_overview(inputs, this), _items(inputs), Section("本周预警信号", tuple(signal_blocks(inputs, "w", charts=2))),
                _forecast(inputs), _ahead(inputs))
    columns = {c: h for c, h in CASE_LIST_COLUMNS.items() if c in cases.columns}
    return Document(title, period, inputs.as_of.date(), sections, issuer=inputs.issuer, contents=False,
                    cases=case_details(cases, columns))


def _overview(inputs: ReportInputs, this: pd.DataFrame) -> Section:
    cases = inputs.cases
    prev_start = inputs.start - pd.Timedelta(weeks=1)
    last = cases[(cases[S.RECEIVED_AT] >= prev_start) & (cases[S.RECEIVED_AT] < inputs.start)]
    top = lambda f: f[S.CATEGORY_CODE].astype(str).str[:2]  # noqa: E731
    order = list(top(this).value_counts().index)
    order += sorted(set(top(last)) - set(order))
    rows = []
    for code in order:
        a, b = this[top(this) == code], last[top(last) == code]
        rows.append((Cell(category_name(inputs, code)), Cell.count(keys_of(a)), Cell.count(keys_of(b)),
                     change_cell(len(a), len(b))))
    rows.append((Cell("合计"), Cell.count(keys_of(this)), Cell.count(keys_of(last)), change_cell(len(this), len(last))))
    table = Table("w-volume", "本周与上周受理量（按问题类别）", ("问题类别", "本周", "上周", "环比"), tuple(rows))
    high = this[this[S.LEVEL].isin([S.Level.PROVINCE.value, S.Level.NATIONAL.value])]
    group = this[this[S.IS_GROUP].astype(bool)]
    rising = [(category_name(inputs, c), len(this[top(this) == c]) - len(last[top(last) == c])) for c in order]
    rising = [r for r in sorted(rising, key=lambda r: -r[1]) if r[1] >= 10][:2]
    sentences = [Sentence(f"本周受理 {len(this):,} 件，上周 {len(last):,} 件。", ref="w-volume")]
    if rising:
        sentences.append(Sentence("增加较多的类别：" + "、".join(f"{n}（+{d}）" for n, d in rising) + "。", ref="w-volume"))
    sentences.append(Sentence(f"本周群体访 {len(group)} 件，到达省级及以上 {len(high)} 件。", trace=trace_of(
        keys_of(pd.concat([group, high]))) or None))
    return Section("本周概况", (Paragraph(tuple(sentences)), table))


def _items(inputs: ReportInputs) -> Section:
    led = ledger_frame(inputs)
    if led.empty:
        return Section("新增及升级的红黄事项", (Paragraph.of(
            f"截至 {inputs.as_of:%Y-%m-%d} 风险台账中尚无事项（riskwatch ledger 尚未运行）。"),))
    keys = set(period_events(inputs, ["opened", "escalated", "graded_up", "reopened"])[S.ITEM_KEY])
    got = led[led[S.ITEM_KEY].isin(keys) & led["grade"].isin([S.Grade.RED.value, S.Grade.YELLOW.value])]
    from riskwatch.report.sections import items_table

    # a briefing stays within a few pages: red first, the nearest deadlines (as the ledger stood at the as-of),
    # with their reasons; the rest are in the leaders' lists
    shown = got.assign(_r=got["grade"].map({S.Grade.RED.value: 0, S.Grade.YELLOW.value: 1})) \
        .sort_values(["_r", "due_at", S.ITEM_KEY]).head(BRIEFING_ITEMS).drop(columns=["_r"])
    caption = "本周新增及升级的红色、黄色事项" + (f"（期限最近的 {len(shown)} 项）" if len(shown) < len(got) else "")
    table = items_table(inputs, shown, "w-items", caption, "本周没有新增或升级的红色、黄色事项。")
    counts = ledger_counts_table(inputs, "w-ledger", "本周")
    waiting = led[led["status"] == "new"]
    rest = (f"表中列出红色在前、化解期限最近的 {len(shown)} 项，全部见领导包案清单（riskwatch items lists）；"
            if len(shown) < len(got) else "")
    text = Paragraph((Sentence(f"本周新增或升级的红色、黄色事项 {len(got)} 项（见表）；{rest}台账中待研判事项 "
                               f"{len(waiting)} 项，请研判会逐项确认、监测或排除。", ref="w-items"),))
    return Section("新增及升级的红黄事项", (text, table, counts))


def _forecast(inputs: ReportInputs) -> Section:
    series = city_top_series(inputs)
    if series.empty:
        return Section("未来几周预测", (Paragraph.of("库中没有截至本周的预测（riskwatch forecast 尚未运行）。"),))
    next_monday = inputs.start + pd.Timedelta(weeks=1)
    fv = inputs.forecast_values
    fv = fv[fv["series_id"].isin(series["series_id"]) & (pd.to_datetime(fv["ds"]) >= next_monday)]
    weeks = sorted(pd.to_datetime(fv["ds"]).unique())[:FORECAST_WEEKS]
    if not weeks:
        return Section("未来几周预测", (Paragraph.of("库中的预测未覆盖下周（预测需要更新）。"),))
    rows = []
    for s in series.itertuples(index=False):
        own = fv[fv["series_id"] == s.series_id].set_index("ds")
        cells = []
        for w in weeks:
            if w in own.index:
                r = own.loc[w]
                cells.append(Cell(f"{r[S.YHAT]:,.0f}（{r[S.YHAT_LOWER_80]:,.0f}–{r[S.YHAT_UPPER_80]:,.0f}）",
                                  round(float(r[S.YHAT]), 1)))
            else:
                cells.append(Cell("—"))
        rows.append((Cell(category_name(inputs, s.category)), *cells))
    columns = ("问题类别", *(f"{pd.Timestamp(w).month}月{pd.Timestamp(w).day}日当周" for w in weeks))
    table = Table("w-forecast", "未来几周全市受理量预测（括号内为 80% 区间）", columns, tuple(rows),
                  numeric=frozenset(range(1, len(columns))),
                  note=f"取 {inputs.forecast_as_of:%Y-%m-%d} 的按周预测。")
    return Section("未来几周预测", (table,))


def _ahead(inputs: ReportInputs) -> Section:
    start = inputs.start + pd.Timedelta(weeks=1)
    ahead = sensitive_ahead(inputs, start, start + pd.Timedelta(days=AHEAD_DAYS))
    if ahead.empty:
        return Section("近期敏感节点", (Paragraph.of(f"未来 {AHEAD_DAYS // 7} 周没有配置的敏感节点。"),))
    rows = tuple((Cell(str(getattr(w, cal.PERIOD_NAME))),
                  Cell(day_span(pd.Timestamp(getattr(w, cal.WINDOW_START)), pd.Timestamp(getattr(w, cal.WINDOW_END)))),
                  Cell(f"{pd.Timestamp(getattr(w, cal.LEAD_START)):%-m月%-d日}"),
                  Cell.of((pd.Timestamp(getattr(w, cal.LEAD_START)) - start).days))
                 for w in ahead.itertuples(index=False))
    table = Table("w-sensitive", f"未来 {AHEAD_DAYS // 7} 周的敏感节点", ("节点", "时间", "进入敏感期", "距下周一（天）"), rows)
    return Section("近期敏感节点", (table,))


__all__ = ["build_weekly", "status_text", "week_title"]
