"""The printed report: a ``Document`` as an A4 PDF, typeset by Typst (the ``typst`` package on PyPI).

Chosen over HTML + CSS through weasyprint by measurement (``benchmarks/report_pdf.py``, BENCHMARKS.md): on
the same 12-page Chinese document Typst takes a fraction of a second, weasyprint many seconds. The layout
is one template, ``templates/report.typ``: title block and contents on the first page, a running header
with the title and the period from the second, 第 n 页，共 N 页 at the foot, numbered headings, tables
whose header row repeats when they run over a page, figures with their captions; when any number is
traced, a note under the contents says where the case lists are (the HTML, the annex's sheets).

The document goes to Typst as data: ``document_json`` turns it into JSON that the template reads
(``json("doc.json")``), so no text of a case or a caption is ever parsed as Typst markup. Fonts are the
project's (``report.fonts``: Noto Serif SC for the body, Noto Sans SC for headings and tables), given to
Typst as its only fonts (no system fonts, not Typst's own): the PDF embeds subsets of them, on every
machine the same. The PDF's dates are the document's as-of, so the same document gives the same bytes.
"""

from __future__ import annotations

import functools
import json
import logging
import tempfile
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from riskwatch.report.document import (
    Document,
    Figure,
    Paragraph,
    Section,
    Table,
    block_labels,
    section_numbers,
    traces,
    walk,
)
from riskwatch.schema import RiskwatchError

log = logging.getLogger(__name__)

TEMPLATE = "report.typ"
TRACED_NOTE = ("说明：报告中的统计数字均可追溯到所依据的案件。在本报告的 HTML 版中点击数字即可查看案件清单；"
               "XLSX 附件中“表 n 案件”工作表列出表 n 各数字对应的案件编号，“案件明细”工作表列出各案件的基本情况。")
TEXT_WIDTH_INCHES = 6.5  # A4 less the 2.2 cm margins: a chart drawn this wide prints at its own font sizes
SHANGHAI = timezone(timedelta(hours=8))


class ReportRenderError(RiskwatchError):
    """Typst could not typeset the document; the message carries Typst's own."""


def render_pdf(document: Document, path: Path) -> Path:
    """Write ``document`` as an A4 PDF to ``path`` (the folder is created); returns ``path``.

    Typst's warnings and the characters no report font can draw (``missing_glyphs``: Typst would print an
    empty box for them, silently) are logged as warnings.

    Raises
    ------
    ReportRenderError
        When Typst fails; the message holds its diagnostic.
    """
    import typst

    from riskwatch.report.fonts import sans_font_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="riskwatch-typst-") as tmp:
        root = Path(tmp)
        data = document_json(document, image_folder=root / "img")
        (root / "doc.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        (root / TEMPLATE).write_bytes(resources.files("riskwatch.report").joinpath("templates", TEMPLATE).read_bytes())
        fonts = typst.Fonts(include_system_fonts=False, include_embedded_fonts=False,
                            font_paths=[str(sans_font_path().parent)])
        stamp = datetime(document.as_of.year, document.as_of.month, document.as_of.day, tzinfo=SHANGHAI)
        try:
            pdf, warnings = typst.compile_with_warnings(str(root / TEMPLATE), root=str(root), font_paths=fonts,
                                                        ignore_system_fonts=True, format="pdf", timestamp=stamp)
        except typst.TypstError as exc:
            raise ReportRenderError(f"render_pdf: Typst failed: {exc.message}\n{exc.diagnostic}") from exc
    for w in warnings:
        log.warning("render_pdf: Typst: %s", w.message)
    missing = missing_glyphs(document)
    if missing:  # Typst draws an empty box for them and says nothing
        log.warning("render_pdf: the report fonts have no glyph for %s",
                    ", ".join(f"{ch} (U+{ord(ch):04X})" for ch in missing))
    path.write_bytes(pdf)
    return path


def missing_glyphs(document: Document) -> list[str]:
    """The characters of the document's text that neither report font can draw (an emoji, a rare 汉字
    outside the fonts' 30,000), sorted; whitespace and control characters are not counted."""
    used = set(document.title + document.period + document.issuer + document.empty)
    for _, section in walk(document.sections):
        used.update(section.heading)
        for block in section.blocks:
            if isinstance(block, Paragraph):
                for sentence in block.sentences:
                    used.update(sentence.text)
            elif isinstance(block, Table):
                used.update("".join(block.columns) + block.caption + block.note + block.empty)
                for row in block.rows:
                    for cell in row:
                        used.update(cell.text)
            else:
                used.update(block.caption + block.note)
    covered = _covered_code_points()
    return sorted(ch for ch in used if ord(ch) not in covered and ch.isprintable() and not ch.isspace())


@functools.lru_cache(maxsize=1)
def _covered_code_points() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    from riskwatch.report.fonts import sans_font_path, serif_font_path

    points: set[int] = set()
    for path in (sans_font_path(), serif_font_path()):
        points.update(TTFont(str(path), lazy=True).getBestCmap())
    return frozenset(points)


def document_json(document: Document, image_folder: Path | None = None) -> dict[str, Any]:
    """The document as the template's data. Figures are written to ``image_folder`` (``<id>.svg|png``) and
    referred to by their path relative to its parent; without a folder they are left out."""
    labels = block_labels(document)
    body: list[dict[str, Any]] = []
    numbers = {id(s): (depth, number) for depth, number, s in section_numbers(document)}

    def visit(section: Section) -> None:
        depth, number = numbers[id(section)]
        body.append({"kind": "heading", "depth": depth, "text": f"{number}{section.heading}"})
        for block in section.blocks:
            item = _block(block, labels, image_folder)
            if item is not None:
                body.append(item)
        for sub in section.sections:
            visit(sub)

    for section in document.sections:
        visit(section)
    return {
        "title": document.title, "period": document.period, "issuer": document.issuer,
        "date": [document.as_of.year, document.as_of.month, document.as_of.day],
        "as_of_text": f"数据截至 {document.as_of.year} 年 {document.as_of.month} 月 {document.as_of.day} 日",
        "empty": document.empty, "body": body, "contents": document.contents,
        "traced_note": TRACED_NOTE if any(True for _ in traces(document)) else "",
    }


def _block(block: Paragraph | Table | Figure, labels: dict[str, str], image_folder: Path | None) -> dict[str, Any] | None:
    if isinstance(block, Paragraph):
        return {"kind": "paragraph", "sentences": [
            {"text": s.text, "ref": s.ref, "ref_label": labels.get(s.ref, "")} for s in block.sentences]}
    if isinstance(block, Table):
        right = block.right_aligned()
        return {"kind": "table", "id": block.id, "label": labels[block.id], "caption": block.caption,
                "columns": list(block.columns), "rows": [[c.text for c in row] for row in block.rows],
                "right": sorted(right), "widths": list(block.widths) if block.widths else None,
                "note": block.note, "empty": block.empty}
    if image_folder is None:
        return None
    image_folder.mkdir(parents=True, exist_ok=True)
    file = image_folder / f"{block.id}.{block.format}"
    file.write_bytes(block.image)
    return {"kind": "figure", "id": block.id, "label": labels[block.id], "caption": block.caption,
            "path": f"{image_folder.name}/{file.name}", "width": block.width, "note": block.note}
