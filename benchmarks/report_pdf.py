"""The PDF route of the reports, measured: Typst against HTML + CSS through weasyprint, on one document.

    python benchmarks/report_pdf.py [--runs 5] [--out reports/sample]

The document is a monthly report's worth of layout (``sample_document``): 6 sections, about 12 A4 pages in
Chinese, a table of contents, 8 tables (10 to 40 rows, some running over a page, counts traced to about
4,300 synthetic cases), 6 matplotlib charts (SVG) and paragraphs. Its figures are invented; only its shape
is a monthly report's. Fonts are the project's (``riskwatch.report.fonts``).

Each measurement runs in a fresh process, as a report command would (Typst memoizes layouts within a
process: compiling the same document a second time takes a tenth of the first). Routes, alternated within
each run so that both see the same machine load:
- ``typst``: ``riskwatch.report.pdf.render_pdf`` (template ``report/templates/report.typ``);
- ``weasyprint``: the page of ``riskwatch.report.html_page.render_html`` with print CSS (A4, running header,
  page numbers, contents with page numbers, the same two fonts by ``@font-face`` from the font files).
Also timed: building the document with its 6 charts, the HTML (``render_html``) and the XLSX annex
(``write_annex``): what one monthly report costs beyond reading the store and computing its figures. Medians over ``--runs``; page counts, sizes and the
embedded fonts (``pdffonts``) of each route's PDF are printed, and both PDFs are left in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure

from riskwatch.config import load_settings
from riskwatch.report.annex import write_annex
from riskwatch.report.charts import figure_image
from riskwatch.report.document import (
    CaseDetails,
    CaseKey,
    Cell,
    Document,
    Figure,
    Paragraph,
    Section,
    Sentence,
    Table,
)
from riskwatch.report.fonts import sans_font_path, serif_font_path, use_cjk_font
from riskwatch.report.html_page import render_html
from riskwatch.report.pdf import TEXT_WIDTH_INCHES, render_pdf

CHANNELS = ["来信", "来访", "来电", "网上信访", "12345热线", "12328热线"]
STATUSES = ["已办结", "办理中", "已受理"]


def _cases(rng: np.random.Generator, n: int, prefix: str, cats: list[str], towns: list[str]) -> list[dict[str, object]]:
    w = rng.dirichlet(np.ones(len(cats)) * 0.6)
    tw = rng.dirichlet(np.ones(len(towns)) * 1.5)
    out = []
    for i in range(n):
        channel = CHANNELS[min(int(rng.exponential(1.4)), 5)]
        source = "hotline_12345" if channel.endswith("热线") else "petition_register"
        out.append({"key": CaseKey(source, f"{prefix}{i:06d}"), "channel": channel,
                    "category": cats[rng.choice(len(cats), p=w)], "town": towns[rng.choice(len(towns), p=tw)],
                    "status": STATUSES[rng.choice(3, p=[0.7, 0.25, 0.05])], "day": int(rng.integers(1, 32))})
    return out


def _chart(kind: str, rng: np.random.Generator, title: str) -> bytes:
    """A chart as a report draws one: text width, no title of its own (the caption is its title), black and
    grey with line styles and hatching, so that it reads the same printed in black and white."""
    use_cjk_font()
    fig = MplFigure(figsize=(TEXT_WIDTH_INCHES, 2.9), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if kind == "line":
        x = np.arange(24)
        ax.plot(x, 3800 + 400 * np.sin(x / 2) + rng.normal(0, 120, 24), color="black", linewidth=1.8, label="本年")
        ax.plot(x, 3600 + 380 * np.sin(x / 2 + 0.3) + rng.normal(0, 120, 24), color="black", linewidth=1.3,
                linestyle=(0, (4, 2)), label="上年同期")
        ax.set_xticks(x[::4], [f"{2025 + (m // 12)}-{m % 12 + 1:02d}" for m in x[::4]])
        ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2)
        ax.set_ylabel("件数")
    else:
        labels = [f"类别{c}" for c in "甲乙丙丁戊己庚辛"]
        v1, v2 = rng.integers(80, 700, 8), rng.integers(80, 700, 8)
        y = np.arange(8)
        ax.barh(y - 0.2, v1, height=0.4, color="#404040", label="本月")
        ax.barh(y + 0.2, v2, height=0.4, color="white", edgecolor="black", hatch="///", label="上月")
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2)
        ax.set_xlabel("件数")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return figure_image(fig, "svg")


def sample_document(seed: int = 14) -> Document:
    """A document shaped like a monthly report (see the module docstring)."""
    rng = np.random.default_rng(seed)
    settings = load_settings()
    tax, regions = settings.taxonomy, settings.regions
    cats = [tax.label(c.code) for c in tax.leaves()][:24]
    towns = [r.name for r in regions.regions.values() if r.level.value == "township"][:40]
    month = _cases(rng, 4300, "GD202610", cats, towns)
    last = _cases(rng, 3950, "GD202609", cats, towns)
    year = _cases(rng, 4100, "GD202510", cats, towns)

    def by(rows: list[dict[str, object]], field: str) -> dict[object, list[CaseKey]]:
        out: dict[object, list[CaseKey]] = {}
        for r in rows:
            out.setdefault(r[field], []).append(r["key"])  # type: ignore[arg-type]
        return out

    def change(a: int, b: int) -> Cell:
        return Cell(f"{(a - b) / b:+.1%}" if b else "—", round((a - b) / b * 100, 1) if b else None)

    def volume_table(tid: str, caption: str, field: str, keys: list[object]) -> Table:
        m, p, y = by(month, field), by(last, field), by(year, field)
        rows = []
        for k in keys:
            a, b, c = m.get(k, []), p.get(k, []), y.get(k, [])
            rows.append((Cell(str(k)), Cell.count(a), Cell.count(b), change(len(a), len(b)), Cell.count(c),
                         change(len(a), len(c))))
        total = (Cell("合计"), Cell.count(r["key"] for r in month), Cell.count(r["key"] for r in last),
                 change(len(month), len(last)), Cell.count(r["key"] for r in year), change(len(month), len(year)))
        return Table(tid, caption, ("项目", "本月", "上月", "环比", "去年同月", "同比"), (*rows, total))

    sentence = ("{0}本月受理 {1} 件，较上月{2}，其中{3}占比最高；从办理情况看，按期办结率为 {4:.1%}，"
                "群众满意率为 {5:.1%}，仍有部分事项办理周期偏长、群众反映集中。")
    def para(subject: str) -> Paragraph:
        n = int(rng.integers(80, 900))
        return Paragraph.of(sentence.format(subject, n, "上升" if rng.random() < 0.5 else "下降",
                                            rng.choice(CHANNELS), rng.uniform(0.85, 0.99), rng.uniform(0.8, 0.97)),
                            "建议相关部门加强源头治理，对反映集中、重复信访的事项实行领导包案，限期化解。")

    status = by(month, "status")
    indicators = Table("t-indicators", "主要指标", ("指标", "本月", "上月", "变化", "口径"), tuple(
        (Cell(name), Cell(f"{v:.1%}", round(v * 100, 1)), Cell(f"{u:.1%}", round(u * 100, 1)),
         Cell(f"{(v - u) * 100:+.1f} 个百分点", round((v - u) * 100, 1)), Cell(how))
        for name, v, u, how in [
            ("按期办结率", 0.943, 0.951, "期限内办结件数 ÷ 应办结件数"), ("实际解决率", 0.872, 0.866, "群众认可已解决件数 ÷ 办结件数"),
            ("满意率", 0.905, 0.897, "满意与基本满意 ÷ 参评件数"), ("重复信访占比", 0.118, 0.104, "一年内同一事项第二次及以上来信来访"),
            ("退单率", 0.036, 0.041, "退单两次及以上工单 ÷ 派单工单"), ("不满意率", 0.061, 0.072, "不满意评价 ÷ 参评件数"),
            ("越级上访占比", 0.021, 0.018, "到市、到省、进京件数 ÷ 来访件数"), ("群体访批次占比", 0.034, 0.029, "5 人以上来访批次 ÷ 来访批次"),
            ("超期未办结件数占比", 0.017, 0.022, "超过法定期限仍未办结 ÷ 在办件数"), ("网上信访占比", 0.262, 0.248, "网上信访 ÷ 全部信访")]))
    indicators = Table(indicators.id, indicators.caption, indicators.columns, indicators.rows, widths=(3, 2, 2, 2.5, 6))
    state = Table("t-status", "本月受理事项办理状态", ("状态", "件数"),
                  tuple((Cell(s), Cell.count(status.get(s, []))) for s in STATUSES))
    forecast = Table("t-forecast", "下月分类别受理量预测", ("类别", "预测值", "80% 区间", "95% 区间", "主要影响因素"), tuple(
        (Cell(c), Cell.of(int(m)), Cell(f"{int(m * 0.85)}–{int(m * 1.15)}"), Cell(f"{int(m * 0.75)}–{int(m * 1.3)}"),
         Cell(str(rng.choice(["春节前欠薪高发期", "国庆长假后回落", "趋势上升", "10 月中旬水平上移", "进博会敏感期", "季节性平稳"]))))
        for c, m in zip(cats[:18], rng.integers(40, 600, 18), strict=True)), widths=(3, 1.5, 2, 2, 4))
    signals = Table("t-signals", "本月预警信号", ("序号", "等级", "信号", "研判依据"), tuple(
        (Cell(str(i + 1)), Cell(str(rng.choice(["红色", "黄色", "蓝色"]))), Cell(f"{rng.choice(cats)} · {rng.choice(towns)}"),
         Cell(f"{rng.choice(cats)} · {rng.choice(towns)}：10 月 19 日当周 {rng.integers(20, 60)} 件，预期 {rng.integers(8, 19)} 件"
              f"（预警上限 {rng.integers(19, 25)}），为 2023 年 1 月以来最高；集中于 {rng.integers(2, 5)} 个小区，与物业服务合同到期有关。"))
        for i in range(14)), widths=(0, 0, 4, 9))
    persons = Table("t-persons", "重复信访人（前 20 名，姓名已遮蔽）", ("序号", "信访人", "件数", "事项", "最高层级", "所在街道"), tuple(
        (Cell(str(i + 1)), Cell.person(str(rng.choice(list("张王李赵刘陈杨黄周吴"))) + "某某"),
         Cell.count(month[j]["key"] for j in rng.choice(len(month), int(rng.integers(3, 12)), replace=False)),  # type: ignore[misc]
         Cell(f"{rng.choice(cats)}：要求解决{rng.choice(['拖欠工资', '拆迁补偿', '房屋质量', '物业收费'])}问题"),
         Cell(str(rng.choice(["区", "市", "省", "进京"]))), Cell(str(rng.choice(towns)))) for i in range(20)),
        widths=(0, 0, 0, 6, 0, 2.4), label_column=1)
    ledger = Table("t-ledger", "领导包案清单（红色、黄色事项）", ("序号", "等级", "事项", "包案人", "化解期限", "最新进展"), tuple(
        (Cell(str(i + 1)), Cell("红色" if i < 9 else "黄色"), Cell(f"{rng.choice(cats)} · {rng.choice(towns)}：{rng.integers(5, 40)} 人联名反映"),
         Cell(f"{rng.choice(list('张王李赵刘'))}*（{rng.choice(['副区长', '街道主任', '副县长', '镇党委书记'])}）"),
         Cell(f"2026-11-{int(rng.integers(3, 28)):02d}"), Cell(str(rng.choice(["已约谈信访人，正在协调补偿方案", "已召开协调会", "已交办住建部门", "—"]))))
        for i in range(32)), widths=(0, 0, 6, 3, 0, 5))
    details = CaseDetails(("渠道", "类别", "街道", "状态"), {
        r["key"]: (str(r["channel"]), str(r["category"]), str(r["town"]), str(r["status"])) for r in month + last + year})
    charts = [_chart("line" if i % 2 == 0 else "bar", rng, t) for i, t in enumerate(
        ["近两年月度受理量", "主要类别本月与上月", "劳动社保 · 欠薪 周度受理量", "受理量居前的街道", "下月预测", "群体事项规模"])]

    def fig(n: int, caption: str, trace: bool = False) -> Figure:
        keys = tuple(sorted({r["key"] for r in month[: 300 * (n + 1)]})) if trace else None  # type: ignore[misc]
        return Figure(f"f{n}", caption, charts[n], "svg", trace=keys)

    return Document(
        title="临海市信访和热线月度风险预警报告", period="2026年10月", as_of=date(2026, 11, 1),
        issuer="临海市信访局 风险研判办公室", cases=details,
        sections=(
            Section("总体情况", (para("全市"), fig(0, "近两年月度受理量（实线为本年，虚线为上年同期）", trace=True),
                             volume_table("t-channel", "受理量按渠道", "channel", CHANNELS), indicators, para("各渠道"), state), (
                Section("分类别情况", (para("各类别"), volume_table("t-category", "受理量按类别", "category", cats), fig(1, "主要类别本月与上月"))),
                Section("分区域情况", (para("各街道"), volume_table("t-town", "受理量按街道（镇）", "town", towns), fig(3, "受理量居前的街道"))),
            )),
            Section("下月预测", (para("下月"), forecast, fig(4, "下月预测"), para("敏感期前后"))),
            Section("本月异常波动", (Paragraph((Sentence("劳动社保类欠薪事项本月明显上升。", ref="t-signals"),
                                                Sentence("10 月 19 日当周受理 41 件，为 2023 年 1 月以来最高。",
                                                         trace=tuple(r["key"] for r in month[:41])))),  # type: ignore[misc]
                                     signals, fig(2, "劳动社保 · 欠薪 周度受理量"), para("异常波动"))),
            Section("重复信访与群体", (para("重复信访人"), persons, fig(5, "群体事项规模"), para("群体"))),
            Section("风险台账与领导包案", (para("风险台账"), ledger)),
            Section("工作建议", (Paragraph.of(Sentence("对欠薪事项集中的街道开展专项排查。", ref="t-signals"),
                                               Sentence("对重复信访人落实领导包案，限期化解。", ref="t-persons")),
                                para("下一阶段"))),
        ))


PRINT_CSS = """
@font-face {{ font-family: "RW Sans"; src: url("{sans}"); }}
@font-face {{ font-family: "RW Serif"; src: url("{serif}"); }}
@page {{ size: A4; margin: 2.6cm 2.2cm 2.3cm;
  @top-left {{ content: "{title}"; font: 8.5pt "RW Sans"; color: #595959; }}
  @top-right {{ content: "{period}"; font: 8.5pt "RW Sans"; color: #595959; }}
  @bottom-center {{ content: "第 " counter(page) " 页，共 " counter(pages) " 页"; font: 8.5pt "RW Sans"; }} }}
body {{ font-family: "RW Serif" !important; font-size: 10.5pt !important; max-width: none !important;
        padding: 0 !important; }}
h1, h2, h3, th, td, figcaption, nav {{ font-family: "RW Sans" !important; }}
nav.toc a::after {{ content: leader(".") target-counter(attr(href), page); }}
nav.toc {{ page-break-after: always; }}
thead {{ display: table-header-group; }}
"""


def weasyprint_pdf(document: Document, html_path: Path, out: Path) -> None:
    """The report page through weasyprint with ``PRINT_CSS`` as a user stylesheet (``!important`` where it
    must win over the page's own screen CSS); the fonts are the project's files, under family names no system
    font has, so that fontconfig cannot slip in a font of the machine."""
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    css = PRINT_CSS.format(sans=sans_font_path().as_uri(), serif=serif_font_path().as_uri(),
                           title=document.title, period=document.period)
    weasyprint.HTML(filename=str(html_path)).write_pdf(
        str(out), stylesheets=[weasyprint.CSS(string=css, font_config=fonts)], font_config=fonts)


def _pages(pdf: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(pdf).pages)


def measure_once(route: str, out: Path) -> dict[str, float]:
    """One report in this (fresh) process: the document with its charts, then ``route`` (``typst`` also
    writes the HTML and the XLSX annex, as the report command will). Seconds per step."""
    times = {}
    t0 = time.perf_counter()
    doc = sample_document()
    times["document+charts"] = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "report.html"
        t0 = time.perf_counter()
        render_html(doc, html)
        times["html"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if route == "typst":
            render_pdf(doc, out / "sample_typst.pdf")
        else:
            weasyprint_pdf(doc, html, out / "sample_weasyprint.pdf")
        times[route] = time.perf_counter() - t0
        if route == "typst":
            t0 = time.perf_counter()
            write_annex(doc, Path(tmp) / "annex.xlsx")
            times["xlsx"] = time.perf_counter() - t0
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default="reports/sample")
    ap.add_argument("--skip-weasyprint", action="store_true")
    ap.add_argument("--one", choices=["typst", "weasyprint"], help=argparse.SUPPRESS)  # a child's single run
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.one:
        print(json.dumps(measure_once(args.one, out)))
        return
    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} cores, Python {sys.version.split()[0]}; "
          f"load average {os.getloadavg()[0]:.2f}")
    # Each run is a fresh process: Typst memoizes layouts within a process (a second compile of the same
    # document takes a tenth of the first), and a report command runs once per process.
    times: dict[str, list[float]] = {k: [] for k in ("document+charts", "typst", "weasyprint", "html", "xlsx")}
    for run in range(args.runs):
        routes = ["typst"] if args.skip_weasyprint else ["typst", "weasyprint"][:: 1 if run % 2 == 0 else -1]
        for route in routes:
            t0 = time.perf_counter()
            child = subprocess.run([sys.executable, __file__, "--one", route, "--out", str(out)], check=True,
                                   capture_output=True, text=True)
            wall = time.perf_counter() - t0
            got = json.loads(child.stdout.strip().splitlines()[-1])
            for k, v in got.items():
                if k != "document+charts" or route == "typst":
                    times[k].append(v)
            print(f"run {run + 1} {route}: " + ", ".join(f"{k} {v:.2f} s" for k, v in got.items())
                  + f" (process {wall:.1f} s)", flush=True)
    doc = sample_document()
    render_html(doc, out / "sample.html")
    write_annex(doc, out / "sample.xlsx")
    print(f"\nmedians over {args.runs} runs (load average now {os.getloadavg()[0]:.2f}):")
    for k, v in times.items():
        if v:
            print(f"  {k:16s} {statistics.median(v):7.2f} s   (min {min(v):.2f}, max {max(v):.2f})")
    for route in ("typst", "weasyprint"):
        pdf = out / f"sample_{route}.pdf"
        if pdf.exists() and times[route]:
            print(f"\n{route}: {_pages(pdf)} pages, {pdf.stat().st_size / 1024:.0f} KiB, "
                  f"{statistics.median(times[route]) / _pages(pdf):.3f} s a page")
            print(subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout.rstrip())
    if times["weasyprint"]:
        ratio = statistics.median(times["weasyprint"]) / statistics.median(times["typst"])
        print(f"\nratio weasyprint / typst (medians): {ratio:.0f}")
    one = sum(statistics.median(times[k]) for k in ("document+charts", "typst", "html", "xlsx"))
    print(f"one report by the typst route (document and charts + PDF + HTML + XLSX): {one:.2f} s")


if __name__ == "__main__":
    main()
