"""The report as HTML: the same content as the PDF, for the screen, with every traced number a link to the
list of its cases.

``render_html(document, path)`` writes ``path`` (the report page) and beside it the folder
``<stem>_files/``: the figures (``<id>.svg|png``) and the case lists, one page per traced table
(``cases-<table id>.html``) and one for traced figures and sentences (``cases-text.html``). Each list is a
section (``id`` = the anchor of ``document.traces``) whose table has one row per case: the number a link
leads to is the number of rows it finds. Nothing runs (no script); text is escaped; the pages use the
reader's Chinese fonts (an HTML page does not embed the 20 MB font files the PDF subsets).
"""

from __future__ import annotations

import shutil
from html import escape
from pathlib import Path

from riskwatch.report.document import (
    CaseDetails,
    Document,
    Figure,
    Paragraph,
    Section,
    Table,
    Trace,
    block_labels,
    cell_anchor,
    section_numbers,
)

TEXT_LIST = "text"  # the list page of traced figures and sentences
FONTS = '"Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif'
CSS = """
body { font-family: FONT_STACK; font-size: 15px; line-height: 1.7; color: #1a1a1a; max-width: 60em;
       margin: 0 auto; padding: 1.5em 2em 4em; }
header.cover { text-align: center; border-bottom: 2px solid #1a1a1a; padding-bottom: .8em; margin-bottom: 1.2em; }
header.cover h1 { font-size: 1.9em; font-weight: normal; margin: .4em 0 .1em; }
header.cover .period { font-size: 1.2em; margin: 0; }
header.cover .meta { color: #555; margin: .3em 0 0; }
nav.toc ol { list-style: none; padding-left: 0; } nav.toc ol ol { padding-left: 2em; }
h2 { font-size: 1.35em; font-weight: normal; margin: 1.6em 0 .5em; }
h3 { font-size: 1.15em; font-weight: normal; margin: 1.2em 0 .4em; }
p { text-indent: 2em; margin: .5em 0; }
a { color: #1f4e79; }
figure { margin: 1.2em 0; }
figcaption { text-align: center; margin: .3em 0; }
figure img { display: block; margin: 0 auto; max-width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; font-size: .9em; }
th, td { padding: .25em .5em; border-bottom: 1px solid #ccc; vertical-align: top; text-align: left; }
thead th { background: #e6e6e6; border-top: 1.5px solid #1a1a1a; border-bottom: 1.5px solid #1a1a1a; }
tbody tr:last-child td { border-bottom: 1.5px solid #1a1a1a; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
p.note { text-indent: 0; font-size: .85em; color: #555; }
p.empty { text-indent: 0; text-align: center; color: #555; }
section.list { margin-bottom: 2em; }
@media print { body { max-width: none; padding: 0; } a { color: inherit; text-decoration: none; } }
""".replace("FONT_STACK", FONTS)


def render_html(document: Document, path: Path) -> Path:
    """Write the report page ``path`` and its folder ``<stem>_files/`` (replaced if it exists); returns
    ``path``."""
    path = Path(path)
    assets = path.with_name(f"{path.stem}_files")
    if assets.exists():
        shutil.rmtree(assets)
    assets.mkdir(parents=True)
    labels = block_labels(document)
    page = _Page(document, labels, assets.name)
    path.write_text(page.report(), encoding="utf-8")
    for block in document.blocks():
        if isinstance(block, Figure):
            (assets / f"{block.id}.{block.format}").write_bytes(block.image)
    for name, body in page.lists(path.name).items():
        (assets / f"cases-{name}.html").write_text(body, encoding="utf-8")
    return path


class _Page:
    """Builds the report page and, as it links traced numbers, the sections of the list pages."""

    def __init__(self, document: Document, labels: dict[str, str], assets: str) -> None:
        self.doc, self.labels, self.assets = document, labels, assets
        # list page -> (anchor, title, trace, the report's anchor to go back to)
        self.sections: dict[str, list[tuple[str, str, Trace, str]]] = {}
        self.sentences = 0
        self.ids = {id(s): f"sec-{n}" for n, (_, _, s) in enumerate(section_numbers(document), start=1)}

    def report(self) -> str:
        d = self.doc
        meta = " ".join(t for t in (d.issuer, f"数据截至 {d.as_of.year} 年 {d.as_of.month} 月 {d.as_of.day} 日") if t)
        parts = [f'<header class="cover"><h1>{escape(d.title)}</h1><p class="period">{escape(d.period)}</p>'
                 f'<p class="meta">{escape(meta)}</p></header>']
        if d.is_empty:
            parts.append(f'<p class="empty">{escape(d.empty)}</p>')
        else:
            if d.contents:
                parts.append(self._toc())
            numbers = {id(s): (depth, number) for depth, number, s in section_numbers(d)}
            parts.extend(self._section(s, numbers) for s in d.sections)
        return _html(f"{d.title} · {d.period}", "\n".join(parts))

    def lists(self, report_name: str) -> dict[str, str]:
        """The list pages: name -> HTML."""
        out = {}
        for name, entries in self.sections.items():
            body = [f'<p><a href="../{escape(report_name)}">返回报告</a></p>']
            for anchor, title, trace, back in entries:
                body.append(_case_list(anchor, title, trace, self.doc.cases, f"../{report_name}#{back}"))
            out[name] = _html(f"{self.doc.title} · 案件清单", "\n".join(body))
        return out

    def _toc(self) -> str:
        numbers = {id(s): number for _, number, s in section_numbers(self.doc)}

        def entries(sections: tuple[Section, ...], depth: int) -> str:
            items = []
            for s in sections:
                below = entries(s.sections, depth + 1) if depth < 2 and s.sections else ""
                items.append(f'<li><a href="#{self.ids[id(s)]}">{escape(numbers[id(s)] + s.heading)}</a>{below}</li>')
            return f"<ol>{''.join(items)}</ol>"

        return f'<nav class="toc"><h2>目录</h2>{entries(self.doc.sections, 1)}</nav>'

    def _section(self, section: Section, numbers: dict[int, tuple[int, str]]) -> str:
        depth, number = numbers[id(section)]
        tag = f"h{min(depth + 1, 6)}"
        parts = [f'<section id="{self.ids[id(section)]}"><{tag}>{escape(number + section.heading)}</{tag}>']
        for block in section.blocks:
            if isinstance(block, Paragraph):
                parts.append(self._paragraph(block))
            elif isinstance(block, Table):
                parts.append(self._table(block))
            else:
                parts.append(self._figure(block))
        parts.extend(self._section(s, numbers) for s in section.sections)
        parts.append("</section>")
        return "\n".join(parts)

    def _paragraph(self, block: Paragraph) -> str:
        out = []
        for s in block.sentences:
            text = escape(s.text)
            if s.trace is not None:
                self.sentences += 1
                anchor = f"s{self.sentences}"
                text = f'<span id="{anchor}">' + self._link(TEXT_LIST, anchor, s.text, s.trace, text, anchor) + "</span>"
            if s.ref:
                text += f'<a href="#{escape(s.ref)}">（见{escape(self.labels[s.ref])}）</a>'
            out.append(text)
        return f"<p>{''.join(out)}</p>"

    def _table(self, table: Table) -> str:
        label = self.labels[table.id]
        head = f'<figure id="{escape(table.id)}"><figcaption>{escape(label)}　{escape(table.caption)}</figcaption>'
        if not table.rows:
            return f'{head}<p class="empty">{escape(table.empty)}</p></figure>'
        right = table.right_aligned()
        rows = []
        for i, row in enumerate(table.rows):
            cells = []
            for j, cell in enumerate(row):
                text, attrs = escape(cell.text), ' class="num"' if j in right else ""
                if cell.trace is not None:
                    anchor = cell_anchor(table, i, j)
                    text = self._link(table.id, anchor, f"{label} · {table.cell_title(i, j)}", cell.trace, text, anchor)
                    attrs += f' id="{anchor}"'
                cells.append(f"<td{attrs}>{text}</td>")
            rows.append(f"<tr>{''.join(cells)}</tr>")
        header = "".join(f'<th{" class=num" if j in right else ""}>{escape(c)}</th>' for j, c in enumerate(table.columns))
        note = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
        return (f"{head}<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>{note}"
                "</figure>")

    def _figure(self, fig: Figure) -> str:
        label = self.labels[fig.id]
        src = f"{self.assets}/{fig.id}.{fig.format}"
        caption = f"{escape(label)}　{escape(fig.caption)}"
        if fig.trace is not None:
            caption += "　" + self._link(TEXT_LIST, fig.id, f"{label} {fig.caption}", fig.trace,
                                        f"案件清单（{len(fig.trace):,} 件）", fig.id)
        note = f'<p class="note">{escape(fig.note)}</p>' if fig.note else ""
        width = f' style="width:{fig.width * 100:.0f}%"'
        return (f'<figure id="{escape(fig.id)}"><img src="{escape(src)}" alt="{escape(fig.caption)}"{width}>'
                f"<figcaption>{caption}</figcaption>{note}</figure>")

    def _link(self, page: str, anchor: str, title: str, trace: Trace, text: str, back: str) -> str:
        self.sections.setdefault(page, []).append((anchor, title, trace, back))
        href = f"{self.assets}/cases-{page}.html#{anchor}"
        return f'<a href="{escape(href)}" title="{len(trace):,} 件案件">{text}</a>'


def _case_list(anchor: str, title: str, trace: Trace, details: CaseDetails | None, back: str) -> str:
    columns = ["序号", "来源", "编号", *(details.columns if details else ())]
    rows = []
    for n, key in enumerate(trace, start=1):
        extra = details.row(key) if details else ()
        cells = (str(n), key.source, key.source_id, *extra)
        rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    back_link = f'<a href="{escape(back)}">返回报告</a>'
    return (f'<section class="list" id="{escape(anchor)}"><h3>{escape(title)}：{len(trace):,} 件</h3>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<p>{back_link}</p></section>")


def _html(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{escape(title)}</title>\n'
            f"<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")
