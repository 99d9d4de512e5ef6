"""A document written as the three files a report is: ``<stem>.pdf``, ``<stem>.html`` (with
``<stem>_files/``) and ``<stem>.xlsx``, in one folder.

The report commands (``riskwatch report monthly | weekly``) build a ``Document`` and call
``write_document``; nothing here knows what a monthly report says.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from riskwatch.report.annex import write_annex
from riskwatch.report.document import Document
from riskwatch.report.html_page import render_html
from riskwatch.report.pdf import render_pdf


@dataclass(frozen=True)
class ReportFiles:
    pdf: Path
    html: Path
    xlsx: Path


def write_document(document: Document, folder: Path, stem: str) -> ReportFiles:
    """Write ``document`` into ``folder`` (created) as PDF, HTML and XLSX annex; returns their paths."""
    from riskwatch.parallel import Beside

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # the annex is the slowest of the three (one row per case behind every number): written on the other core
    annex = Beside(write_annex, document, folder / f"{stem}.xlsx")
    files = ReportFiles(pdf=render_pdf(document, folder / f"{stem}.pdf"),
                        html=render_html(document, folder / f"{stem}.html"), xlsx=folder / f"{stem}.xlsx")
    annex.wait()
    return files
