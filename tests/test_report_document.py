"""The report document and its renderers (issue 14): the PDF (pages, embedded Chinese fonts, text, contents,
running header, pages rendered to PNG by pdftoppm), the HTML (every traced number links to a list of as
many cases), the XLSX annex (sheets, headers, frozen panes, formula-like text neutralized, the case ids
behind each cell) and what an empty document or table becomes.

PDF structure is read with pypdf (test extra); pages are rendered with ``pdftoppm`` (Debian poppler-utils,
installed by ``.ci/run``).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure
from openpyxl import load_workbook
from pypdf import PdfReader

from riskwatch import schema as S
from riskwatch.report.annex import CASES_SHEET, INDEX_SHEET, TEXT_SHEET, write_annex
from riskwatch.report.charts import figure_image
from riskwatch.report.document import (
    EMPTY_DOCUMENT,
    EMPTY_TABLE,
    CaseKey,
    Cell,
    Document,
    Figure,
    Paragraph,
    Section,
    Sentence,
    Table,
    block_labels,
    case_details,
    chinese_number,
    section_numbers,
    trace_of,
    traces,
)
from riskwatch.report.fonts import use_cjk_font
from riskwatch.report.html_page import render_html
from riskwatch.report.output import write_document
from riskwatch.report.pdf import missing_glyphs, render_pdf

AS_OF = date(2026, 11, 1)
TITLE = "临海市信访和热线月度风险预警报告"
PERIOD = "2026年10月"


def flat(text: str) -> str:
    """Extracted text without spaces and line breaks (where a line wraps is the layout's business)."""
    return re.sub(r"\s", "", text)


def keys(prefix: str, n: int, source: str = "hotline_12345") -> list[tuple[str, str]]:
    return [(source, f"{prefix}{i:04d}") for i in range(n)]


def chart(fmt: str = "svg") -> bytes:
    use_cjk_font()
    fig = MplFigure(figsize=(6.5, 2.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot([1, 2, 3, 4], [3, 1, 4, 1], color="black", label="受理量")
    ax.plot([1, 2, 3, 4], [2, 2, 3, 2], color="black", linestyle="--", label="上年同期")
    ax.legend(frameon=False)
    ax.set_ylabel("件数")
    return figure_image(fig, fmt)


def small_document() -> Document:
    volume = Table("t-volume", "受理量按渠道", ("渠道", "本月", "上月", "环比"), (
        (Cell("来电"), Cell.count(keys("A", 12)), Cell.count(keys("B", 10)), Cell("+20.0%", 20.0)),
        (Cell("来访"), Cell.count(keys("C", 3, "petition_register")), Cell.count(keys("D", 5, "petition_register")),
         Cell("-40.0%", -40.0)),
        (Cell("合计"), Cell.count(keys("A", 12) + keys("C", 3, "petition_register")),
         Cell.count(keys("B", 10) + keys("D", 5, "petition_register")), Cell("+0.0%", 0.0)),
    ))
    persons = Table("t-persons", "重复信访人", ("信访人", "件数", "事项"), (
        (Cell.person("张三丰"), Cell.count(keys("A", 4)), Cell('=HYPERLINK("http://x","点我")')),
        (Cell.person("李四"), Cell.count(keys("C", 2, "petition_register")), Cell("+cmd|' /C calc'!A0")),
        (Cell.person(None), Cell.of(1), Cell('#panic("typst markup is data") *不加粗* $x$ <b>不是标签</b>')),
    ))
    empty = Table("t-empty", "本月群体访", ("群体", "人数"), ())
    return Document(
        title=TITLE, period=PERIOD, as_of=AS_OF, issuer="临海市信访局",
        cases=case_details(pd.DataFrame({S.SOURCE: [k[0] for k in keys("A", 12)], S.SOURCE_ID: [k[1] for k in keys("A", 12)],
                                         S.CHANNEL: "来电", S.NAME: "王小明"}), {S.CHANNEL: "渠道", S.NAME: "信访人"}),
        sections=(
            Section("总体情况", (
                Paragraph((Sentence("本月全市共受理信访件和热线工单 15 件，", trace=trace_of(keys("A", 12) + keys("C", 3, "petition_register"))),
                           Sentence("较上月持平。", ref="t-volume"))),
                volume,
                Figure("f-trend", "近四个月受理量", chart("svg"), "svg", trace=trace_of(keys("B", 10))),
            ), (
                Section("分渠道情况", (Paragraph.of("来电占比最高。"), Figure("f-png", "渠道构成", chart("png"), "png", width=0.6))),
            )),
            Section("重复信访与群体", (persons, empty)),
            Section("工作建议", (Paragraph.of(Sentence("对重复信访人落实领导包案。", ref="t-persons")),)),
        ))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("report")
    doc = small_document()
    return {"pdf": render_pdf(doc, folder / "report.pdf"), "html": render_html(doc, folder / "report.html"),
            "xlsx": write_annex(doc, folder / "report.xlsx")}


# --- the model ---------------------------------------------------------------------------------
def test_model_numbers_labels_and_traces() -> None:
    doc = small_document()
    assert [(d, n) for d, n, _ in section_numbers(doc)] == [(1, "一、"), (2, "（一）"), (1, "二、"), (1, "三、")]
    assert block_labels(doc) == {"t-volume": "表 1", "f-trend": "图 1", "f-png": "图 2", "t-persons": "表 2",
                                 "t-empty": "表 3"}
    anchors = dict(traces(doc))
    assert len(anchors["t-volume-r2c1"]) == 15 and len(anchors["f-trend"]) == 10 and len(anchors["s1"]) == 15
    assert [chinese_number(n) for n in (1, 10, 12, 20, 31)] == ["一", "十", "十二", "二十", "三十一"]
    assert Cell.count([("a", "1"), ("a", "1"), ("b", "1")]).value == 2      # distinct cases
    assert Cell.person("欧阳修").text == "欧*" and Cell.person("").text == "（无名）"
    assert Cell.of(float("nan")).text == "" and Cell.of(1234).text == "1,234" and Cell.of(True).text == "是"
    assert Cell.of(np.int64(1234)) == Cell("1,234", 1234) and Cell.of(np.float64(0.5), "{:.1%}") == Cell("50.0%", 0.5)
    assert Cell.of(pd.Timestamp("2026-10-01")).text == "2026-10-01" and Cell.of(pd.NaT).text == ""
    assert Cell.of(pd.Timestamp("2026-10-01 09:30")).text == "2026-10-01 09:30"
    table = Table.from_frame("t", "表", pd.DataFrame({"类别": ["欠薪"], "件数": [3]}))
    assert table.rows == ((Cell("欠薪"), Cell("3", 3)),) and table.right_aligned() == frozenset({1})


def test_model_refuses_what_renderers_could_not_show() -> None:
    fig = Figure("f", "图", b"<svg/>")
    with pytest.raises(ValueError, match="used twice"):
        Document(TITLE, PERIOD, AS_OF, (Section("一", (fig, fig)),))
    with pytest.raises(ValueError, match="refers to 'nowhere'"):
        Document(TITLE, PERIOD, AS_OF, (Section("一", (Paragraph.of(Sentence("见", ref="nowhere")),)),))
    with pytest.raises(ValueError, match="row 0 has 1 cells for 2 columns"):
        Table("t", "表", ("a", "b"), ((Cell("x"),),))
    with pytest.raises(ValueError, match="label_column 2 outside"):
        Table("t", "表", ("a", "b"), (), label_column=2)
    with pytest.raises(ValueError, match="not"):
        Document(TITLE, PERIOD, AS_OF, (Section("一", (Figure("1 图", "图", b""),)),))


def test_case_details_mask_persons_and_refuse_free_text() -> None:
    frame = pd.DataFrame({S.SOURCE: ["s", "s"], S.SOURCE_ID: ["1", "2"], S.NAME: ["张三", None],
                          S.PHONE: ["13812345678", None], S.RECEIVED_AT: pd.to_datetime(["2026-10-03 09:05", None]),
                          S.CONTENT: ["张三说……", ""]})
    details = case_details(frame, {S.NAME: "信访人", S.PHONE: "电话", S.RECEIVED_AT: "受理时间"})
    assert details.columns == ("信访人", "电话", "受理时间")
    assert details.row(CaseKey("s", "1")) == ("张*", "138****5678", "2026-10-03 09:05")
    assert details.row(CaseKey("s", "2")) == ("", "", "")
    assert details.row(CaseKey("s", "9")) == ("", "", "")
    with pytest.raises(ValueError, match="free text columns content"):
        case_details(frame, {S.CONTENT: "内容"})


# --- PDF -----------------------------------------------------------------------------------------
def _fonts(reader: PdfReader) -> dict[str, bool]:
    """Base font name -> embedded, over every page."""
    out: dict[str, bool] = {}
    for page in reader.pages:
        for ref in (page["/Resources"].get("/Font") or {}).values():
            font = ref.get_object()
            for desc in font.get("/DescendantFonts", [font]):
                d = desc.get_object()
                fd = d.get("/FontDescriptor")
                fd = fd.get_object() if fd is not None else {}
                out[str(d["/BaseFont"])] = any(k in fd for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    return out


def test_pdf_pages_fonts_text_contents_and_header(rendered: dict[str, Path]) -> None:
    reader = PdfReader(rendered["pdf"])
    pages = [p.extract_text() for p in reader.pages]
    assert len(pages) == 3
    fonts = _fonts(reader)
    assert any(re.fullmatch(r"/[A-Z]{6}\+NotoSerifSC-Regular.*", f) for f in fonts), fonts   # subset
    assert any("NotoSansSC" in f for f in fonts), fonts
    assert all(fonts.values()), fonts                                                       # all embedded
    assert len(fonts) == 2, fonts                                                           # nothing else
    first = flat(pages[0])
    assert TITLE in first and "目录" in first
    for heading in ("一、总体情况", "（一）分渠道情况", "二、重复信访与群体", "三、工作建议"):
        assert heading in first, heading                                                    # the contents
    body = flat("".join(pages[1:]))
    assert TITLE in flat(pages[1]) and "2026年10月" in flat(pages[1])                        # running header
    assert "第2页，共3页" in flat(pages[1])
    assert "表1受理量按渠道" in body and "图1近四个月受理量" in body
    assert "较上月持平。（见表1）" in body
    assert "张*" in body and "张三丰" not in body and "王小明" not in body
    assert '#panic("typstmarkupisdata")*不加粗*$x$<b>不是标签</b>' in body                  # data, not markup
    assert EMPTY_TABLE in body
    assert "“表n案件”工作表" in first


def test_pdf_same_document_same_bytes_without_warnings(rendered: dict[str, Path], tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="riskwatch.report.pdf"):
        again = render_pdf(small_document(), tmp_path / "again.pdf")
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert again.read_bytes() == rendered["pdf"].read_bytes()
    assert "2026-11-01" in str(PdfReader(again).metadata.creation_date)


def test_pdf_pages_render_to_png(rendered: dict[str, Path], tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("pdftoppm not found under CI=true: .ci/run installs poppler-utils")
        pytest.skip("pdftoppm (Debian poppler-utils) not installed")
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(rendered["pdf"]), str(tmp_path / "page")], check=True,
                   capture_output=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == 3
    for png in pngs:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000   # a page with something on it


# --- HTML ----------------------------------------------------------------------------------------
class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []   # (href, text)
        self.ids: set[str] = set()
        self._href: str | None = None
        self._text: list[str] = []
        self.rows: dict[str, int] = {}           # section id -> rows of its table body
        self._section: str | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "a":
            self._href, self._text = a.get("href"), []
        if tag == "section":
            self._section = a.get("id")
        if tag == "tbody":
            self._in_body = True
        if tag == "tr" and self._in_body and self._section:
            self.rows[self._section] = self.rows.get(self._section, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text)))
            self._href = None
        if tag == "tbody":
            self._in_body = False

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_html_every_traced_number_links_to_as_many_cases(rendered: dict[str, Path]) -> None:
    page = rendered["html"]
    report = _parse(page)
    case_links = [(h, t) for h, t in report.links if "/cases-" in h]
    doc = small_document()
    assert len(case_links) == len(list(traces(doc)))
    lists: dict[str, _Links] = {}
    for href, text in case_links:
        file, _, anchor = href.partition("#")
        target = lists.setdefault(file, _parse(page.parent / file))
        number = int(re.search(r"[\d,]+", text).group().replace(",", ""))
        assert target.rows[anchor] == number, (href, text)
        assert anchor in report.ids or anchor.startswith("f-")      # the list links back to it
    for href, _ in report.links:                                     # no dangling link in the report
        if href.startswith("#"):
            assert href[1:] in report.ids, href
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and "&lt;b&gt;不是标签&lt;/b&gt;" in html
    assert "张三丰" not in html and "张*" in html
    listed = (page.parent / "report_files" / "cases-t-volume.html").read_text(encoding="utf-8")
    assert "王*" in listed and "王小明" not in listed                  # case details masked
    assert (page.parent / "report_files" / "f-trend.svg").is_file() and (page.parent / "report_files" / "f-png.png").is_file()
    assert "目录" in html and EMPTY_TABLE in html
    toc = re.search(r'<nav class="toc">.*?</nav>', html).group()
    assert toc.count("<li>") == toc.count("</li>") == 4 and toc.count("<ol>") == toc.count("</ol>") == 2


# --- XLSX ----------------------------------------------------------------------------------------
def test_xlsx_sheets_headers_frozen_neutralized_and_traces(rendered: dict[str, Path]) -> None:
    wb = load_workbook(rendered["xlsx"])
    assert wb.sheetnames == [INDEX_SHEET, "表 1 受理量按渠道", "表 1 案件", "表 2 重复信访人", "表 2 案件",
                             "表 3 本月群体访", TEXT_SHEET, CASES_SHEET]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A3", ws.title                 # title row, then the frozen header
    volume = wb["表 1 受理量按渠道"]
    assert [c.value for c in volume[2]] == ["渠道", "本月", "上月", "环比"]
    assert [c.value for c in volume[5]] == ["合计", 15, 15, 0]
    persons = wb["表 2 重复信访人"]
    texts = [persons.cell(r, 3).value for r in (3, 4)]
    assert texts == ['\'=HYPERLINK("http://x","点我")', "'+cmd|' /C calc'!A0"]
    assert all(persons.cell(r, 3).data_type == "s" for r in (3, 4))
    assert persons.cell(3, 1).value == "张*"
    listed = wb["表 1 案件"]
    assert [c.value for c in listed[2]] == ["数字", "来源", "案件编号"]
    counts: dict[str, int] = {}
    for number, source, sid in listed.iter_rows(min_row=3, values_only=True):
        counts[number] = counts.get(number, 0) + 1
        assert source in ("hotline_12345", "petition_register") and sid
    for label, n in counts.items():
        assert int(re.search(r"（([\d,]+) 件）$", label).group(1)) == n, label
    assert counts["合计 · 本月（15 件）"] == 15
    assert {r[0] for r in wb["表 2 案件"].iter_rows(min_row=3, values_only=True)} == {"张* · 件数（4 件）",
                                                                                   "李* · 件数（2 件）"}
    assert wb["表 3 本月群体访"]["A3"].value == EMPTY_TABLE
    details = wb[CASES_SHEET]
    assert [c.value for c in details[2]] == ["来源", "案件编号", "渠道", "信访人"]
    assert {r[3] for r in details.iter_rows(min_row=3, values_only=True)} <= {"王*", None}


# --- empty ---------------------------------------------------------------------------------------
def test_empty_document_says_so(tmp_path: Path) -> None:
    doc = Document(TITLE, PERIOD, AS_OF)
    pdf = render_pdf(doc, tmp_path / "empty.pdf")
    reader = PdfReader(pdf)
    assert len(reader.pages) == 1 and EMPTY_DOCUMENT in flat(reader.pages[0].extract_text())
    html = render_html(doc, tmp_path / "empty.html").read_text(encoding="utf-8")
    assert EMPTY_DOCUMENT in html and "目录" not in html
    wb = load_workbook(write_annex(doc, tmp_path / "empty.xlsx"))
    assert wb.sheetnames == [INDEX_SHEET] and wb[INDEX_SHEET]["A3"].value == EMPTY_DOCUMENT


def test_section_without_tables_and_only_empty_tables(tmp_path: Path) -> None:
    doc = Document(TITLE, PERIOD, AS_OF, (Section("总体情况", (Paragraph.of("本月无受理。"),)),
                                          Section("空表", (Table("t", "无", ("a",), ()),))))
    text = flat("".join(p.extract_text() for p in PdfReader(render_pdf(doc, tmp_path / "a.pdf")).pages))
    assert "本月无受理。" in text and EMPTY_TABLE in text
    wb = load_workbook(write_annex(doc, tmp_path / "a.xlsx"))
    assert wb.sheetnames == [INDEX_SHEET, "表 1 无"]


def test_characters_the_fonts_cannot_draw_are_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    doc = Document(TITLE, PERIOD, AS_OF, (Section("总体情况", (Paragraph.of("群众留言😀，生僻字𪚥。"),
                                                              Table("t", "表", ("项目",), ((Cell("\u2028正常"),),)))),))
    assert missing_glyphs(doc) == ["😀", "𪚥"]
    assert missing_glyphs(small_document()) == []
    with caplog.at_level(logging.WARNING, logger="riskwatch.report.pdf"):
        render_pdf(doc, tmp_path / "glyphs.pdf")
    assert any("😀 (U+1F600)" in r.getMessage() and "𪚥 (U+2A6A5)" in r.getMessage() for r in caplog.records)


def test_figure_image_same_figure_same_bytes() -> None:
    svg, png = chart("svg"), chart("png")
    assert svg == chart("svg") and png == chart("png")
    assert svg.lstrip().startswith(b"<?xml") and b"<text" not in svg      # text drawn as paths: no font needed
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="expected svg or png"):
        figure_image(MplFigure(), "pdf")


def test_write_document_and_a_briefing_without_contents(tmp_path: Path) -> None:
    doc = small_document()
    brief = Document(doc.title, doc.period, doc.as_of, doc.sections[1:], contents=False)
    files = write_document(brief, tmp_path / "weekly", "周报")
    assert [p.name for p in (files.pdf, files.html, files.xlsx)] == ["周报.pdf", "周报.html", "周报.xlsx"]
    first = flat(PdfReader(files.pdf).pages[0].extract_text())
    assert "目录" not in first and "一、重复信访与群体" in first                    # the body follows the title
    assert "目录" not in files.html.read_text(encoding="utf-8")


def _write_text(path: Path, text: str) -> None:
    if text == "fail":
        raise ValueError("cannot write")
    path.write_text(text, encoding="utf-8")


def test_work_beside_writes_its_file_and_a_failure_is_raised(tmp_path: Path) -> None:
    from riskwatch.parallel import Beside

    ok = Beside(_write_text, tmp_path / "a.txt", "附表")
    ok.wait()
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "附表"
    bad = Beside(_write_text, tmp_path / "b.txt", "fail")
    with pytest.raises((RuntimeError, ValueError)):
        bad.wait()
