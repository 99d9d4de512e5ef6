"""The monthly risk-warning report (月度风险预警报告) as a ``Document``: pure, over ``ReportInputs``.

Sections: 一、总体情况 (volume by channel and category with 同比 / 环比, the indicators); 二、下月受理量预测
(by category with intervals and what drives it); 三、本月预警信号 (spikes, rises, level shifts, each with its
chart and sentence); 四、重复信访与群体 (top persons masked, largest and fastest-growing groups, a network
picture); 五、风险台账 (red / yellow / blue, new, resolved, overdue, escalated; the leaders' list); 六、下月敏感节点
(and the risks that bear on them); 七、工作建议 (each pointing at its table or figure). Every count in a table is
``Cell.count`` of its cases.
"""

from __future__ import annotations

import pandas as pd

from riskwatch import calendar as cal
from riskwatch import schema as S
from riskwatch.indicators import MonthCases, month_cases, pct, stats_of
from riskwatch.report import figures
from riskwatch.report.document import (
    Cell,
    Document,
    Figure,
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
    CLOSED_STATUSES,
    category_name,
    change_cell,
    channel_name,
    city_top_series,
    day_span,
    forecast_over,
    holidays_in,
    items_table,
    keys_of,
    ledger_counts_table,
    ledger_frame,
    level_name,
    rate_cell,
    sensitive_ahead,
    series_name,
    signal_blocks,
    signed_pct,
    split_keys,
)

TOP_PERSONS = 10
TOP_GROUPS = 8
NETWORK_GROUPS = 4
GROWTH_DAYS = 90


def build_monthly(inputs: ReportInputs) -> Document:
    """The month's report; a month without cases gives a document that says so."""
    month = inputs.period
    title = f"{inputs.city}信访与热线月度风险预警报告"
    period = f"{month.year}年{month.month}月"
    mc = month_cases(inputs.cases, month, inputs.as_of, category_level=1) if len(inputs.cases) else None
    if mc is None or not mc.in_month.any():
        return Document(title, period, inputs.as_of.date(), issuer=inputs.issuer,
                        empty=f"{period}（截至 {inputs.as_of:%Y-%m-%d}）库中无受理记录，本期不生成分析内容。")
    sections = (
        _overview(inputs, mc),
        _forecast(inputs, mc),
        Section("本月预警信号", tuple(signal_blocks(inputs, "m"))),
        _persons(inputs),
        _ledger(inputs),
        _sensitive(inputs),
    )
    sections = (*sections, _recommendations(inputs, mc, sections))
    return Document(title, period, inputs.as_of.date(), sections, issuer=inputs.issuer,
                    cases=case_details(inputs.cases, CASE_LIST_COLUMNS_FOR(inputs)))


def CASE_LIST_COLUMNS_FOR(inputs: ReportInputs) -> dict[str, str]:  # noqa: N802
    return {c: h for c, h in CASE_LIST_COLUMNS.items() if c in inputs.cases.columns}


# --- 一、总体情况 ----------------------------------------------------------------------------------
def _breakdown(mc: MonthCases, key: str, label: object, table_id: str, caption: str, head: str) -> Table:
    known = mc.known
    rows = []
    values = known.loc[mc.in_month | mc.prev_month | mc.prev_year, key]
    order = known.loc[mc.in_month, key].value_counts()
    keys = list(order.index) + sorted(set(values) - set(order.index))
    for k in keys:
        of = known[key] == k
        cur, pm, py = mc.in_month & of, mc.prev_month & of, mc.prev_year & of
        rows.append((Cell(label(k)), Cell.count(mc.keys(cur)), Cell.count(mc.keys(pm)), Cell.count(mc.keys(py)),  # type: ignore[operator]
                     change_cell(int(cur.sum()), int(pm.sum())), change_cell(int(cur.sum()), int(py.sum()))))
    # the total's cases are those of the rows above: listed once, there (the annex stays a third shorter)
    rows.append((Cell("合计"), *(Cell.of(int(m.sum())) for m in (mc.in_month, mc.prev_month, mc.prev_year)),
                 change_cell(int(mc.in_month.sum()), int(mc.prev_month.sum())),
                 change_cell(int(mc.in_month.sum()), int(mc.prev_year.sum()))))
    return Table(table_id, caption, (head, "本月", "上月", "去年同月", "环比", "同比"), tuple(rows),
                 note="合计行的案件即以上各行案件之和。")


def _overview(inputs: ReportInputs, mc: MonthCases) -> Section:
    st = stats_of(mc)
    yoy = (st.total - st.total_prev_year) / st.total_prev_year if st.total_prev_year else float("nan")
    mom = (st.total - st.total_prev_month) / st.total_prev_month if st.total_prev_month else float("nan")
    by_channel = _breakdown(mc, S.CHANNEL, channel_name, "m-channel", "本月受理量（按渠道）", "渠道")
    by_cat = _breakdown(mc, S.CATEGORY_CODE, lambda c: category_name(inputs, c), "m-category",
                        "本月受理量（按问题类别）", "问题类别")
    top = st.by_category.head(10)
    bars = Figure("m-category-chart", "本月与去年同月受理量（按问题类别）",
                  figures.category_bars([category_name(inputs, k) for k in top["key"]], top["count"].tolist(),
                                        top["prev_year"].tolist(), "本月", "去年同月"))
    lead = top.iloc[0] if len(top) else None
    first = Paragraph((
        Sentence(f"本月全市共受理信访与热线事项 {st.total:,} 件，环比 {pct(mom)}，同比 {pct(yoy)}。", ref="m-channel",
                 trace=None),
        *((Sentence(f"受理量最多的是{category_name(inputs, lead['key'])}，{int(lead['count']):,} 件，"
                    f"同比 {pct(lead['yoy'])}。", ref="m-category"),) if lead is not None else ()),
    ))
    ind = _indicators_table(mc)
    second = Paragraph.of(Sentence(
        f"按期办结率 {_rate(st.on_time.numerator, st.on_time.denominator)}，实际解决率 "
        f"{_rate(st.resolved.numerator, st.resolved.denominator)}，群众满意率 "
        f"{_rate(st.satisfied.numerator, st.satisfied.denominator)}；群体访 {st.group_cases} 件 "
        f"{st.group_headcount} 人次，逾期未办结 {st.overdue_open:,} 件。", ref="m-indicators"))
    return Section("总体情况", (first, by_channel, by_cat, bars, second, ind, _levels_table(mc)))


def _rate(num: int, den: int) -> str:
    return f"{num / den * 100:.1f}%" if den else "—"


def _indicators_table(mc: MonthCases) -> Table:
    def row(name: str, num: object, den: object, definition: str) -> tuple[Cell, ...]:
        n = Cell.count(mc.keys(num)) if num is not None else Cell("")  # type: ignore[arg-type]
        d = Cell.count(mc.keys(den)) if den is not None else Cell("")  # type: ignore[arg-type]
        rate = rate_cell(n.value or 0, d.value or 0) if num is not None and den is not None else Cell("")  # type: ignore[arg-type]
        return (Cell(name), n, d, rate, Cell(definition))

    rows = [
        row("按期办结率", mc.on_time, mc.due_in_month, "期限在本月的案件中按期办结的"),
        row("实际解决率", mc.resolved, mc.concluded, "本月办结案件中已解决的"),
        row("群众满意率", mc.satisfied, mc.rated, "本月办结并评价的案件中满意、基本满意的"),
    ]
    if mc.repeat is not None:
        rows.append(row("重复信访占比", mc.repeat, mc.in_month, "本月受理中属重复信访的"))
    group_heads = int(mc.known.loc[mc.group, S.HEADCOUNT].sum())
    rows += [
        row("群体访", mc.group, None, f"本月受理的群体访（{group_heads:,} 人次）"),
        row("退单工单", mc.returned, None, "本月受理、被承办单位退回过的工单"),
        row("逾期未办结", mc.overdue_open, None, "截至月末未办结且已过期限"),
        row("逾期办结", mc.overdue_closed, None, "本月办结但超过期限"),
    ]
    return Table("m-indicators", "主要工作指标", ("指标", "件数", "基数", "比率", "口径"), tuple(rows),
                 widths=(1.3, 0.9, 0.9, 0.9, 3.2))


def _levels_table(mc: MonthCases) -> Table:
    known = mc.known
    rows = []
    for lv in S.Level:
        of = mc.in_month & (known[S.LEVEL] == lv.value)
        rows.append((Cell(level_name(lv.value)), Cell.count(mc.keys(of)),
                     Cell.count(mc.keys(of & mc.group))))
    return Table("m-levels", "本月受理事项到达层级", ("到达层级", "件数", "其中群体访"), tuple(rows))


# --- 二、下月预测 ----------------------------------------------------------------------------------
def _forecast(inputs: ReportInputs, mc: MonthCases) -> Section:
    nxt = inputs.period + 1
    start, end = nxt.start_time, nxt.end_time
    got = forecast_over(inputs, start, end)
    head = f"{nxt.year}年{nxt.month}月"
    if got.empty:
        return Section("下月受理量预测", (Paragraph.of(
            f"库中没有截至 {inputs.as_of:%Y-%m-%d} 的、覆盖{head}的预测（riskwatch forecast 尚未运行），本期不作预测。"),))
    series = city_top_series(inputs).set_index("series_id")
    known = mc.known
    received = known[S.RECEIVED_AT].dt.to_period("M")
    shifts = inputs.shifts
    rows, labels, fc = [], [], []
    for r in got.merge(series[["category", "model"]], left_on="series_id", right_index=True).itertuples(index=False):
        cat = str(r.category)
        of = pd.Series(True, index=known.index) if cat == "*" else known[S.CATEGORY_CODE].astype(str).str.startswith(cat)
        this = mc.in_month & of
        last_year = (received == nxt - 12) & of
        recent = of & received.isin([inputs.period - 2, inputs.period - 1, inputs.period])
        base = recent.sum() / 3
        drivers = []
        if base:
            drivers.append(f"较近三月月均{signed_pct((r.yhat - base) / base)}")
        if last_year.sum():
            drivers.append(f"较去年同月{signed_pct((r.yhat - last_year.sum()) / last_year.sum())}")
        if not shifts.empty:
            sh = shifts[shifts["series_id"] == r.series_id]
            if len(sh):
                s0 = sh.iloc[-1]
                drivers.append(f"{pd.Timestamp(s0['start']):%Y-%m}起水平变化（×{float(s0['ratio']):.2f}）")
        rows.append((Cell(category_name(inputs, cat)), Cell.of(round(r.yhat), "{:,.0f}"),
                     Cell(f"{r.yhat_lower_80:,.0f}–{r.yhat_upper_80:,.0f}"),
                     Cell(f"{r.yhat_lower_95:,.0f}–{r.yhat_upper_95:,.0f}"),
                     Cell.count(mc.keys(this)), Cell.count(mc.keys(last_year)), Cell("；".join(drivers) or "—")))
        if cat != "*":
            labels.append(category_name(inputs, cat))
            fc.append(r)
    table = Table("m-forecast", f"{head}受理量预测（按问题类别）",
                  ("问题类别", "预测值", "80% 区间", "95% 区间", "本月实际", "去年同月", "主要因素"), tuple(rows),
                  widths=(1.2, 0.8, 1.2, 1.2, 0.9, 0.9, 3.4), numeric=frozenset({1, 2, 3, 4, 5}),
                  note=f"预测取 {inputs.forecast_as_of:%Y-%m-%d} 的按周预测（各序列回测择优的模型），按天数折算到{head}后加总；"
                       "区间为各周区间之和，偏保守。")
    chart = Figure("m-forecast-chart", f"{head}受理量预测与区间（按问题类别）",
                   figures.forecast_ranges(labels, [r.yhat for r in fc], [r.yhat_lower_80 for r in fc],
                                           [r.yhat_upper_80 for r in fc], [r.yhat_lower_95 for r in fc],
                                           [r.yhat_upper_95 for r in fc],
                                           [int((mc.in_month & mc.known[S.CATEGORY_CODE].astype(str).str.startswith(
                                               str(r.category))).sum()) for r in fc], "本月实际"))
    total = got[got["series_id"].isin(series.index[series["category"] == "*"])]
    sentences = []
    if len(total):
        t = total.iloc[0]
        sentences.append(Sentence(f"预计{head}全市受理 {t['yhat']:,.0f} 件（80% 区间 {t[S.YHAT_LOWER_80]:,.0f}–"
                                  f"{t[S.YHAT_UPPER_80]:,.0f} 件）。", ref="m-forecast"))
    hol = holidays_in(inputs, start, end)
    if hol:
        sentences.append(Sentence(f"{head}含{'、'.join(hol)}假期，假期内热线受理通常减少、节后回升，预测已计入假期因素。"))
    ahead = sensitive_ahead(inputs, start, end)
    if len(ahead):
        names = "、".join(dict.fromkeys(ahead[cal.PERIOD_NAME]))
        sentences.append(Sentence(f"{head}涉及敏感节点：{names}（见第六部分）。"))
    return Section("下月受理量预测", (Paragraph(tuple(sentences)), table, chart))


# --- 四、重复信访与群体 ------------------------------------------------------------------------------
def top_persons(person_cases: pd.DataFrame, cases: pd.DataFrame, as_of: pd.Timestamp, n: int = TOP_PERSONS
                ) -> pd.DataFrame:
    """The persons with the most cases received in the year up to ``as_of``: ``person_id, cases`` (ties by
    id), at least two cases each."""
    if person_cases.empty or cases.empty:
        return pd.DataFrame(columns=["person_id", "cases"])
    year = cases[(cases[S.RECEIVED_AT] > as_of - pd.Timedelta(days=365)) & (cases[S.RECEIVED_AT] <= as_of)]
    mine = person_cases.merge(year[[S.SOURCE, S.SOURCE_ID]], on=[S.SOURCE, S.SOURCE_ID]).drop_duplicates()
    counts = mine.groupby("person_id").size().rename("cases").reset_index()
    counts = counts[counts["cases"] >= 2]
    return counts.sort_values(["cases", "person_id"], ascending=[False, True]).head(n).reset_index(drop=True)


def _persons(inputs: ReportInputs) -> Section:
    blocks: list[Paragraph | Table | Figure] = []
    cases = inputs.cases
    top = top_persons(inputs.person_cases, cases, inputs.as_of)
    year = cases[(cases[S.RECEIVED_AT] > inputs.as_of - pd.Timedelta(days=365))]
    month = cases[(cases[S.RECEIVED_AT] >= inputs.start) & (cases[S.RECEIVED_AT] <= inputs.end)]
    rows = []
    for n, p in enumerate(top.itertuples(index=False), start=1):
        own = inputs.person_cases[inputs.person_cases["person_id"] == p.person_id]
        mine_year = year.merge(own[[S.SOURCE, S.SOURCE_ID]], on=[S.SOURCE, S.SOURCE_ID])
        mine_month = month.merge(own[[S.SOURCE, S.SOURCE_ID]], on=[S.SOURCE, S.SOURCE_ID])
        cats = mine_year[S.CATEGORY_CODE].astype(str).str[:2].value_counts()
        top_level = max((list(S.Level).index(S.Level(v)) for v in mine_year[S.LEVEL] if v in S.Level._value2member_map_),
                        default=None)
        rows.append((Cell.of(n), Cell(inputs.person_names.get(p.person_id, "（无名）")), Cell(str(p.person_id)),
                     Cell.count(keys_of(mine_year)), Cell.count(keys_of(mine_month)),
                     Cell("、".join(category_name(inputs, c) for c in cats.index[:2])),
                     Cell(level_name(list(S.Level)[top_level].value) if top_level is not None else "")))
    blocks.append(Table("m-persons", "近一年受理件数最多的信访人", ("序号", "信访人", "人员编号", "近一年件数", "本月件数",
                                                       "主要类别", "最高层级"), tuple(rows), label_column=1,
                        empty="近一年没有两次及以上信访的人员（或尚未运行 riskwatch persons）。",
                        note="姓名已脱敏；人员编号可用 riskwatch persons show 查看档案。"))
    groups = inputs.groups
    if groups.empty:
        blocks.append(Paragraph.of("尚无群体识别结果（riskwatch persons 尚未运行或未发现群体）。"))
        return Section("重复信访与群体", tuple(blocks))
    members = inputs.members.copy()
    members["joined_at"] = pd.to_datetime(members["joined_at"])
    members = members[members["joined_at"].isna() | (members["joined_at"] <= inputs.as_of)]
    since = inputs.as_of - pd.Timedelta(days=GROWTH_DAYS)
    growth = members[members["joined_at"] > since].groupby(S.GROUP_ID).size()
    size = members.groupby(S.GROUP_ID).size()
    gc = inputs.group_cases
    known = set(keys_of(cases))

    def group_rows(ids: list[str]) -> tuple[tuple[Cell, ...], ...]:
        out = []
        for gid in ids:
            g = groups[groups[S.GROUP_ID] == gid].iloc[0]
            own = gc[gc[S.GROUP_ID] == gid]
            year_keys = [k for k in keys_of(own) if k in known]
            month_keys = set(keys_of(month))
            towns = "、".join(_town(inputs, t) for t in list(g["townships"])[:3])
            out.append((Cell(str(gid)), Cell(category_name(inputs, g[S.CATEGORY_CODE])), Cell.of(int(size.get(gid, 0))),
                        Cell.of(int(growth.get(gid, 0))), Cell.count(year_keys),
                        Cell.count([k for k in year_keys if k in month_keys]),
                        Cell(level_name(g["max_level"]) if g["max_level"] else ""), Cell(towns)))
        return tuple(out)

    columns = ("群体", "主要类别", "成员", f"近{GROWTH_DAYS}天新增", "近一年案件", "本月案件", "最高层级", "涉及乡镇")
    widths = (1.1, 1.3, 0.7, 1, 1, 0.9, 0.9, 2.4)
    largest = sorted(size.index, key=lambda g: (-int(size[g]), g))[:TOP_GROUPS]
    blocks.append(Table("m-groups", "规模最大的群体", columns, group_rows(largest), widths=widths))
    fastest = [g for g in sorted(growth.index, key=lambda g: (-int(growth[g]), g)) if growth[g] > 0][:TOP_GROUPS]
    blocks.append(Table("m-groups-growth", f"近{GROWTH_DAYS}天成员增长最快的群体", columns, group_rows(fastest), widths=widths,
                        empty=f"近{GROWTH_DAYS}天没有群体新增成员。"))
    net = _network(inputs, largest[:NETWORK_GROUPS], members)
    if net is not None:
        blocks.append(net)
        blocks.append(Paragraph((Sentence(
            f"图中为规模最大的 {min(NETWORK_GROUPS, len(largest))} 个群体的成员（每个小图一个群体，颜色越深、点越大，与其他成员共同的案件越多）及其共同参与的案件"
            "（连线越粗，共同的案件越多）；居于中心、连线多的成员是群体的组织者或联络人，宜作为包案稳控的重点。",
            ref="m-network"),)))
    return Section("重复信访与群体", tuple(blocks))


def _town(inputs: ReportInputs, code: object) -> str:
    r = inputs.regions.regions.get(str(code))
    return r.name if r is not None else str(code)


def _network(inputs: ReportInputs, ids: list[str], members: pd.DataFrame) -> Figure | None:
    if not ids or inputs.person_cases.empty:
        return None
    gc = inputs.group_cases[inputs.group_cases[S.GROUP_ID].isin(ids)]
    mem = members[members[S.GROUP_ID].isin(ids)]
    pc = inputs.person_cases.merge(gc[[S.SOURCE, S.SOURCE_ID]].drop_duplicates(), on=[S.SOURCE, S.SOURCE_ID])
    pc = pc[pc["person_id"].isin(mem["person_id"])]
    pairs = pc.merge(pc, on=[S.SOURCE, S.SOURCE_ID])
    pairs = pairs[pairs["person_id_x"] < pairs["person_id_y"]]
    edges = pairs.groupby(["person_id_x", "person_id_y"]).size().rename("weight").reset_index()
    edges.columns = ["a", "b", "weight"]
    membership = dict(zip(mem["person_id"], mem[S.GROUP_ID], strict=True))
    labels = {g: f"{g}（{int((mem[S.GROUP_ID] == g).sum())} 人）" for g in ids}
    return Figure("m-network", "主要群体成员关系", figures.network_chart(edges, membership, labels), format="png",
                  trace=trace_of(keys_of(gc)) or None)


# --- 五、风险台账 ----------------------------------------------------------------------------------
def _ledger(inputs: ReportInputs) -> Section:
    led = ledger_frame(inputs)
    if led.empty:
        return Section("风险台账", (Paragraph.of(f"截至 {inputs.as_of:%Y-%m-%d} 风险台账中没有事项（riskwatch ledger 尚未运行）。"),))
    counts = ledger_counts_table(inputs, "m-ledger", "本月")
    staff = {m.id: m for m in inputs.staff}
    red = led[(led["grade"] == S.Grade.RED.value) & ~led["status"].isin(CLOSED_STATUSES)]
    red = red[red["owner_id"].map(lambda o: o in staff and staff[o].role == "county_leader")]
    open_ = led[~led["status"].isin(CLOSED_STATUSES)]
    n = {g: int((open_["grade"] == g.value).sum()) for g in S.Grade}
    overdue = open_[open_["due_at"].notna() & (open_["due_at"] < inputs.as_of)]
    text = Paragraph((Sentence(f"截至 {inputs.as_of:%Y-%m-%d}，台账在办红色事项 {n[S.Grade.RED]} 项、黄色 {n[S.Grade.YELLOW]} 项、"
                               f"蓝色 {n[S.Grade.BLUE]} 项，其中逾期 {len(overdue)} 项。", ref="m-ledger"),))
    lst = items_table(inputs, red, "m-leader-list", "领导包案清单（红色事项，县级领导包案）",
                      "没有由县级领导包案的在办红色事项。", why=False)
    note = Paragraph.of("各事项的研判依据见 riskwatch items show 及各领导的包案清单（riskwatch items lists）。")
    return Section("风险台账", (text, counts, lst, note))


# --- 六、下月敏感节点 ------------------------------------------------------------------------------
def _sensitive(inputs: ReportInputs) -> Section:
    nxt = inputs.period + 1
    ahead = sensitive_ahead(inputs, nxt.start_time, nxt.end_time)
    head = f"{nxt.year}年{nxt.month}月"
    if ahead.empty:
        return Section("下月敏感节点", (Paragraph.of(f"{head}没有配置的敏感节点（config/periods.toml）。"),))
    cases = inputs.cases
    rows = []
    for w in ahead.itertuples(index=False):
        start, end, lead = (pd.Timestamp(getattr(w, c)) for c in (cal.WINDOW_START, cal.WINDOW_END, cal.LEAD_START))
        ly_start, ly_end = lead - pd.DateOffset(years=1), end - pd.DateOffset(years=1) + pd.Timedelta(days=1)
        last = cases[(cases[S.RECEIVED_AT] >= ly_start) & (cases[S.RECEIVED_AT] < ly_end)]
        high = last[last[S.LEVEL].isin([S.Level.CITY.value, S.Level.PROVINCE.value, S.Level.NATIONAL.value])]
        cats = last[S.CATEGORY_CODE].astype(str).str[:2].value_counts()
        rows.append((Cell(str(getattr(w, cal.PERIOD_NAME))), Cell(day_span(start, end)), Cell(f"{lead.month}月{lead.day}日"),
                     Cell.count(keys_of(last)), Cell.count(keys_of(high)),
                     Cell("、".join(category_name(inputs, c) for c in cats.index[:3]))))
    table = Table("m-sensitive", f"{head}敏感节点与去年同期", ("节点", "时间", "进入敏感期", "去年同期受理", "其中市级以上",
                                                       "去年同期主要类别"), tuple(rows),
                  widths=(1.2, 1.8, 1.1, 1.1, 1.1, 2.6),
                  note="去年同期：去年同一节点敏感期（自进入敏感期起）内受理的事项。")
    led = ledger_frame(inputs)
    open_ = led[~led["status"].isin(CLOSED_STATUSES) & led["grade"].isin([S.Grade.RED.value, S.Grade.YELLOW.value])]
    first = ahead.iloc[0]
    sentences = [Sentence(f"{head}最早的敏感节点是{first[cal.PERIOD_NAME]}，{pd.Timestamp(first[cal.LEAD_START]):%-m月%-d日}"
                          "起进入敏感期。", ref="m-sensitive")]
    if len(open_):
        sentences.append(Sentence(f"台账在办红色、黄色事项 {len(open_)} 项，敏感期前应逐项落实包案责任和稳控措施。",
                                  ref="m-leader-list" if (open_["grade"] == S.Grade.RED.value).any() else "m-ledger"))
    return Section("下月敏感节点", (Paragraph(tuple(sentences)), table))


# --- 七、工作建议 ----------------------------------------------------------------------------------
def _has(sections: tuple[Section, ...], block_id: str) -> bool:
    return any(getattr(b, "id", None) == block_id for s in sections for b in s.blocks)


def _recommendations(inputs: ReportInputs, mc: MonthCases, sections: tuple[Section, ...]) -> Section:
    st = stats_of(mc)
    items: list[Sentence] = []
    rising = st.by_category[(st.by_category["count"] >= 20) & (st.by_category["yoy"] >= 0.2)].head(3)
    if len(rising):
        names = "、".join(f"{category_name(inputs, r.key)}（同比 {pct(r.yoy)}）" for r in rising.itertuples())
        items.append(Sentence(f"关注同比明显上升的类别：{names}，请主管部门分析原因、源头治理。", ref="m-category"))
    if _has(sections, "m-signals"):
        names = "、".join(series_name(inputs, s) for s in inputs.signals["subject"].head(3))
        items.append(Sentence(f"对本月 {len(inputs.signals)} 个受理量预警信号（{names}等）逐一核查，区分真实聚集与集中录入。",
                              ref="m-signals"))
    if st.on_time.denominator and st.on_time.value < 0.9:
        items.append(Sentence(f"按期办结率 {_rate(st.on_time.numerator, st.on_time.denominator)}，低于 90%，"
                              f"逾期未办结 {st.overdue_open:,} 件，请督办逾期事项。", ref="m-indicators"))
    if st.satisfied.denominator and st.satisfied.value < 0.85:
        items.append(Sentence(f"群众满意率 {_rate(st.satisfied.numerator, st.satisfied.denominator)}，对不满意事项"
                              "组织回访、二次办理。", ref="m-indicators"))
    if _has(sections, "m-leader-list"):
        led = ledger_frame(inputs)
        open_red = led[(led["grade"] == S.Grade.RED.value) & ~led["status"].isin(CLOSED_STATUSES)]
        late = open_red[open_red["due_at"].notna() & (open_red["due_at"] < inputs.as_of)]
        if len(open_red):
            items.append(Sentence(f"在办红色事项 {len(open_red)} 项（逾期 {len(late)} 项），请包案领导按“一案一策”推进，"
                                  "每周一研判会报告进展。", ref="m-leader-list"))
    if _has(sections, "m-groups-growth"):
        items.append(Sentence("对近期成员增长较快的群体，提前掌握组织者动向，防止跨镇串联。", ref="m-groups-growth"))
    if _has(sections, "m-persons"):
        items.append(Sentence("对高频信访人逐人落实包案，化解诉求、减少重复信访。", ref="m-persons"))
    if _has(sections, "m-sensitive"):
        items.append(Sentence("敏感节点前开展矛盾排查，重点稳控去年同期越级较多的类别。", ref="m-sensitive"))
    if _has(sections, "m-forecast"):
        items.append(Sentence("按下月预测安排热线与接访力量，预测上限较高的类别提前准备。", ref="m-forecast"))
    if not items:
        items.append(Sentence("本月各项指标平稳，保持日常排查。", ref="m-indicators"))
    return Section("工作建议", tuple(Paragraph((Sentence(f"{n}. {s.text}", ref=s.ref),))
                                  for n, s in enumerate(items, start=1)))


__all__ = ["build_monthly", "top_persons", "split_keys"]
