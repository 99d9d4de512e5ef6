"""Forecast chart: renders Chinese without missing glyphs, labels, legend, y from 0, file formats."""

from __future__ import annotations

import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskwatch import schema as S
from riskwatch.report import charts, fonts


def _frames(n: int = 60, horizon: int = 8, late: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    ds = pd.date_range("2025-01-06", periods=n, freq="W-MON")
    y = 100 + 20 * np.sin(np.arange(n) / 8.0)
    observed = y.copy()
    if late:
        observed[-late:] *= np.linspace(0.8, 0.4, late)
    history = pd.DataFrame({S.SERIES_ID: "W:*:339901", S.DS: ds, S.Y: y, S.Y_OBSERVED: observed})
    fds = pd.date_range(ds[-1], periods=horizon + 1, freq="W-MON")[1:]
    mean = np.full(horizon, 105.0)
    width = np.linspace(5, 15, horizon)
    forecast = pd.DataFrame({
        S.DS: fds, S.YHAT: mean,
        S.YHAT_LOWER_80: mean - width, S.YHAT_UPPER_80: mean + width,
        S.YHAT_LOWER_95: mean - 2 * width, S.YHAT_UPPER_95: mean + 2 * width,
        S.MODEL: "ets",
    })
    return history, forecast


def test_png_renders_chinese_without_missing_glyphs(tmp_path: Path) -> None:
    history, forecast = _frames()
    out = tmp_path / "chart.png"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = charts.plot_forecast(history, forecast, "全市受理量周度预测", path=out)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing

    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1500, 675)  # 10 x 4.5 in at 150 dpi
    assert 10_000 < len(data) < 2_000_000

    ax = fig.axes[0]
    assert ax.get_xlabel() == "周"
    assert ax.get_ylabel() == "件数"
    assert ax.get_title(loc="left") == "模型：ets"
    assert fig.get_suptitle() == "全市受理量周度预测"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["实际受理量", "预计补录后", "目前已录入", "预测值", "80% 预测区间", "95% 预测区间",
                      "预测起点"]
    bottom, top = ax.get_ylim()
    assert bottom == 0
    assert top >= forecast[S.YHAT_UPPER_95].max()


def test_no_nowcast_entries_without_late_records_and_x_label_by_freq() -> None:
    history, forecast = _frames(late=0)
    history = history.drop(columns=[S.Y_OBSERVED])
    fig = charts.plot_forecast(history, forecast.drop(columns=[S.MODEL]), "月度预测", freq="M",
                               subtitle="模型：季节朴素")
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "预计补录后" not in legend and "目前已录入" not in legend
    assert ax.get_xlabel() == "月"
    assert ax.get_title(loc="left") == "模型：季节朴素"


def test_history_window_and_date_ticks() -> None:
    history, forecast = _frames(n=300)
    fig = charts.plot_forecast(history, forecast, "预测")
    fig.canvas.draw()
    ax = fig.axes[0]
    left = pd.Timestamp(ax.get_xlim()[0], unit="D")
    assert left > history[S.DS].iloc[-104] - pd.Timedelta(days=30)
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(lb[:4].isdigit() and not any(c.isalpha() and c.isascii() for c in lb)
                          for lb in labels), labels


def test_pdf_output(tmp_path: Path) -> None:
    history, forecast = _frames()
    out = tmp_path / "chart.pdf"
    charts.plot_forecast(history, forecast, "预测", path=out)
    assert out.read_bytes()[:5] == b"%PDF-"


def test_input_errors(tmp_path: Path) -> None:
    history, forecast = _frames()
    with pytest.raises(ValueError, match=r"plot_forecast: forecast: missing column\(s\): yhat_upper_95"):
        charts.plot_forecast(history, forecast.drop(columns=[S.YHAT_UPPER_95]), "预测")
    with pytest.raises(ValueError, match=r"plot_forecast: history: missing column\(s\): y"):
        charts.plot_forecast(history.drop(columns=[S.Y]), forecast, "预测")
    with pytest.raises(ValueError, match="freq"):
        charts.plot_forecast(history, forecast, "预测", freq="Q")
    with pytest.raises(ValueError, match=r"\.png or \.pdf"):
        charts.plot_forecast(history, forecast, "预测", path=tmp_path / "chart.svg")
    two = pd.concat([history, history.assign(**{S.SERIES_ID: "W:01:339901"})])
    with pytest.raises(ValueError, match="2 series"):
        charts.plot_forecast(two, forecast, "预测")


def test_missing_font_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pylopdf_fonts_zh_cn", None)  # import fails as if not installed
    with pytest.raises(fonts.MissingCJKFontError, match="pylopdf-fonts-zh-cn"):
        fonts.sans_font_path()


def test_the_font_is_the_declared_package_and_draws_chinese() -> None:
    from matplotlib import ft2font

    for path in (fonts.sans_font_path(), fonts.serif_font_path()):
        charmap = ft2font.FT2Font(str(path)).get_charmap()
        assert all(ord(c) in charmap for c in "预测区间件数信访群体"), path
    assert fonts.cjk_font().get_family() == ["Noto Sans SC"]


def test_use_cjk_font_sets_rcparams() -> None:
    import matplotlib

    prop = fonts.use_cjk_font()
    assert matplotlib.rcParams["font.sans-serif"][0] == prop.get_family()[0]
    assert matplotlib.rcParams["axes.unicode_minus"] is False


def test_import_riskwatch_does_not_import_matplotlib() -> None:
    code = "import sys, riskwatch, riskwatch.report; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
