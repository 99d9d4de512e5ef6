"""The project's Chinese font, and making matplotlib use it.

matplotlib's default font (DejaVu Sans) has no Chinese glyphs: every 汉字 comes out as a box ("tofu")
and matplotlib warns ``Glyph ... missing from font(s)``. riskwatch does not depend on what fonts a
machine happens to have: the font is a declared dependency, Noto Sans SC and Noto Serif SC (SIL Open Font
License) from the PyPI package ``pylopdf-fonts-zh-cn`` (17 MB wheel, fonts only, no code of its own
beyond their paths). Every chart and report on every machine is drawn in the same font, and the PDF
reports embed it.

Chosen over Debian's ``fonts-noto-cjk`` (a system package the README's ``pip install`` cannot bring) and
over ``mplfonts`` (an 85 MB wheel that also ships SimHei, a font whose licence does not allow
redistribution).

Imports matplotlib; import this module only where charts are drawn (never from ``riskwatch/__init__``).
"""

from __future__ import annotations

import functools
from pathlib import Path

import matplotlib
from matplotlib import font_manager

from riskwatch.schema import RiskwatchError

FONT_PACKAGE = "pylopdf-fonts-zh-cn"


class MissingCJKFontError(RiskwatchError):
    """The project's Chinese font is not installed; the message says how to install it."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"未找到中文字体 Chinese font not found ({detail}): 请重新安装 reinstall riskwatch "
            f"(pip install -e .), which installs the font package {FONT_PACKAGE}"
        )


def sans_font_path() -> Path:
    """The file of the project's sans-serif Chinese font (Noto Sans SC Regular, OpenType)."""
    return _font_file("sans")


def serif_font_path() -> Path:
    """The file of the project's serif Chinese font (Noto Serif SC Regular, OpenType)."""
    return _font_file("serif")


def cjk_font() -> font_manager.FontProperties:
    """The ``FontProperties`` of the project's sans-serif Chinese font, registered with matplotlib."""
    return font_manager.FontProperties(family=[_registered_family()])


def use_cjk_font() -> font_manager.FontProperties:
    """Make matplotlib draw text in the project's Chinese font; returns that font.

    Sets ``font.family`` to sans-serif with the Chinese font first in ``font.sans-serif`` (the previous
    entries stay behind it as fallbacks) and ``axes.unicode_minus = False`` (the CJK font draws an ASCII
    hyphen-minus better than U+2212). Idempotent.

    Raises
    ------
    MissingCJKFontError
        When the font package is not installed or its file is unreadable.
    """
    prop = cjk_font()
    family = prop.get_family()[0]
    rc = matplotlib.rcParams
    rc["font.family"] = ["sans-serif"]
    rc["font.sans-serif"] = [family, *(f for f in rc["font.sans-serif"] if f != family)]
    rc["axes.unicode_minus"] = False
    return prop


@functools.lru_cache(maxsize=1)
def _registered_family() -> str:
    path = sans_font_path()
    try:
        font_manager.fontManager.addfont(str(path))
    except (OSError, RuntimeError, ValueError) as exc:  # unreadable or unsupported font file
        raise MissingCJKFontError(f"{path}: {exc}") from exc
    return font_manager.ttfFontProperty(font_manager.get_font(str(path))).name


def _font_file(kind: str) -> Path:
    try:
        import pylopdf_fonts_zh_cn as package
    except ImportError as exc:
        raise MissingCJKFontError(f"no module {exc.name}") from exc
    path = Path(package.sans_path() if kind == "sans" else package.serif_path())
    if not path.is_file():
        raise MissingCJKFontError(f"{path} missing")
    return path
