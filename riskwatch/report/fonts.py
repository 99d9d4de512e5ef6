"""Find a font that can draw Chinese and make matplotlib use it.

matplotlib's default font (DejaVu Sans) has no Chinese glyphs: every 汉字 comes out as a box ("tofu")
and matplotlib warns ``Glyph ... missing from font(s)``. ``use_cjk_font`` looks for a CJK font, registers
it with matplotlib's font manager (fonts installed after matplotlib built its font cache are unknown to
it until registered) and puts it first in ``font.sans-serif``. On Debian the font comes from the
``fonts-noto-cjk`` package.

Imports matplotlib; import this module only where charts are drawn (never from ``riskwatch/__init__``).
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib
from matplotlib import font_manager, ft2font

from riskwatch.schema import RiskwatchError

DEBIAN_PACKAGE = "fonts-noto-cjk"

# Families tried first, in order: Simplified Chinese sans faces, then serif, then other systems' fonts
# (Windows, macOS) and faces for other CJK locales, whose Hanzi shapes differ slightly from the SC ones.
PREFERRED_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
    "Noto Serif CJK SC", "Noto Serif SC", "Source Han Serif SC", "Source Han Serif CN",
    "Microsoft YaHei", "SimHei", "PingFang SC", "Hiragino Sans GB", "Heiti SC", "STHeiti",
    "Droid Sans Fallback", "AR PL UMing CN", "AR PL UKai CN", "SimSun",
    "Noto Sans CJK TC", "Noto Sans CJK JP", "Noto Serif CJK TC", "Noto Serif CJK JP",
)

# File names of fonts that (usually) cover Chinese.
_CJK_FILE = re.compile(
    r"cjk|wqy|wenquanyi|droidsansfallback|sourcehan|notosans-?sc|notoserif-?sc|uming|ukai"
    r"|msyh|simhei|simsun|simkai|simfang|pingfang|hiragino|stheiti|heiti",
    re.IGNORECASE,
)
_PROBE = "预测区间件数"  # characters every chart needs


class MissingCJKFontError(RiskwatchError):
    """No installed font can draw Chinese; the message names the package to install."""

    def __init__(self) -> None:
        super().__init__(
            f"未找到可显示中文的字体 no CJK font found: 请安装 install the Debian package {DEBIAN_PACKAGE} "
            f"(apt-get install -y {DEBIAN_PACKAGE}); on other systems install Noto Sans CJK SC"
        )


def cjk_font() -> font_manager.FontProperties | None:
    """The ``FontProperties`` of an installed font that can draw Chinese, or ``None`` when there is none.

    Looks among the fonts matplotlib knows, then registers font files that ``fc-list :lang=zh`` lists
    or whose file name looks like a CJK font. The search runs once per process.
    """
    family = _find_cjk_family()
    return None if family is None else font_manager.FontProperties(family=[family])


def use_cjk_font() -> font_manager.FontProperties:
    """Make matplotlib draw text in a CJK font; returns that font.

    Sets ``font.family`` to sans-serif with the CJK font first in ``font.sans-serif`` (the previous
    entries stay behind it as fallbacks) and ``axes.unicode_minus = False`` (the CJK fonts draw an ASCII
    hyphen-minus better than U+2212). Idempotent.

    Raises
    ------
    MissingCJKFontError
        When no CJK font is installed; the message names the Debian package ``fonts-noto-cjk``.
    """
    prop = cjk_font()
    if prop is None:
        raise MissingCJKFontError()
    family = prop.get_family()[0]
    rc = matplotlib.rcParams
    rc["font.family"] = ["sans-serif"]
    rc["font.sans-serif"] = [family, *(f for f in rc["font.sans-serif"] if f != family)]
    rc["axes.unicode_minus"] = False
    return prop


@functools.lru_cache(maxsize=1)
def _find_cjk_family() -> str | None:
    found = _preferred_known()
    if found is not None:
        return found
    candidates = _candidate_files()
    known = {Path(f.fname) for f in font_manager.fontManager.ttflist}
    for file in sorted(candidates - known):
        try:
            font_manager.fontManager.addfont(file)
        except (OSError, RuntimeError, ValueError):  # unreadable or unsupported font file
            continue
    found = _preferred_known()
    if found is not None:
        return found
    for entry in font_manager.fontManager.ttflist:
        if Path(entry.fname) in candidates and _draws_chinese(entry):
            return entry.name
    return None


def _preferred_known() -> str | None:
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((family for family in PREFERRED_FAMILIES if family in names), None)


def _candidate_files() -> set[Path]:
    files = set(_fc_list_zh())
    files.update(Path(p) for p in font_manager.findSystemFonts() if _CJK_FILE.search(Path(p).name))
    return {f for f in files if f.suffix.lower() in {".ttf", ".otf", ".ttc"} and f.is_file()}


def _fc_list_zh() -> list[Path]:
    """Font files fontconfig says cover Chinese (empty without fontconfig)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        out = subprocess.run([fc_list, ":lang=zh", "file"], capture_output=True, text=True,
                             timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [Path(line.strip().rstrip(":")) for line in out.splitlines() if line.strip()]


def _draws_chinese(entry: font_manager.FontEntry) -> bool:
    try:  # FontEntry.index and FT2Font(face_index=) exist from matplotlib 3.10; face 0 before
        index = getattr(entry, "index", 0)
        font = ft2font.FT2Font(str(entry.fname), face_index=index) if index else ft2font.FT2Font(str(entry.fname))
    except (OSError, RuntimeError, ValueError):
        return False
    charmap = font.get_charmap()
    return all(ord(c) in charmap for c in _PROBE)
