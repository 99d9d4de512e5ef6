"""Report charts (matplotlib, Agg backend, Chinese text).

Chart functions take frames and return a ``matplotlib.figure.Figure``. Figures are built with the
object-oriented API (``Figure`` + ``FigureCanvasAgg``), never through ``pyplot``: nothing is shown, no
global figure registry holds them, and a figure needs no ``close`` — it is freed when the caller drops
it, whether or not it was saved to ``path``.

This module imports matplotlib; ``import riskwatch`` must not import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from riskwatch import schema as S
from riskwatch.forecast.base import FREQS
from riskwatch.report.fonts import use_cjk_font

FIGSIZE = (10.0, 4.5)  # inches: the text width of an A4 page
DPI = 150
# Periods of history shown before the forecast: 2 years of weeks, 5 of months, half a year of days.
HISTORY_PERIODS: dict[str, int] = {"D": 183, "W": 104, "M": 60}
X_LABELS: dict[str, str] = {"D": "日", "W": "周", "M": "月"}
Y_LABEL = "件数"

LABEL_HISTORY = "实际受理量"
LABEL_NOWCAST = "预计补录后"
LABEL_OBSERVED = "目前已录入"
LABEL_FORECAST = "预测值"
LABEL_BAND_80 = "80% 预测区间"
LABEL_BAND_95 = "95% 预测区间"
LABEL_ORIGIN = "预测起点"

_HISTORY_COLOR = "#1f4e79"
_FORECAST_COLOR = "#c8553d"
_MUTED = "#595959"

FORECAST_PLOT_COLUMNS: tuple[str, ...] = (S.DS, S.YHAT, *S.INTERVAL_COLUMNS)
_SAVE_FORMATS = {".png": "png", ".pdf": "pdf"}
_SVG_SALT = "riskwatch"  # fixed ids inside SVG files: the same figure gives the same bytes


def plot_forecast(history: pd.DataFrame, forecast: pd.DataFrame, title: str, freq: str = "W",
                  path: Path | None = None, subtitle: str = "",
                  history_periods: int | None = None) -> Figure:
    """Draw one series' history and forecast with its 80% and 95% intervals.

    Parameters
    ----------
    history : DataFrame
        One series, columns ``ds, y`` and optionally ``y_observed`` (cases known at ``as_of``; lower
        than the nowcast ``y`` in the last periods when records are entered late). Only the last
        ``history_periods`` periods are drawn.
    forecast : DataFrame
        The same series' forecast, columns ``ds, yhat, yhat_lower_80, yhat_upper_80, yhat_lower_95,
        yhat_upper_95`` and optionally ``model``.
    title : str
        Chinese title printed above the chart.
    freq : {"D", "W", "M"}
        The series' frequency; chooses the x-axis label (日 / 周 / 月) and the default history window.
    path : Path, optional
        When given, the figure is also saved there: PNG at 150 dpi, or PDF when the suffix is ``.pdf``.
    subtitle : str
        Second, smaller line under the title; when empty and ``forecast`` has a ``model`` column,
        ``模型：<model>`` (several models joined by 、).
    history_periods : int, optional
        How many periods of history to draw; default 104 weeks, 60 months or 183 days.

    Returns
    -------
    Figure
        Not registered with pyplot: it needs no ``close`` (see the module docstring).

    Raises
    ------
    ValueError
        A column is missing, a frame is empty or holds several series, ``freq`` or the suffix of
        ``path`` is unknown.
    """
    where = "plot_forecast"
    S.require_columns(history.columns, (S.DS, S.Y), f"{where}: history")
    S.require_columns(forecast.columns, FORECAST_PLOT_COLUMNS, f"{where}: forecast")
    if freq not in FREQS:
        raise ValueError(f"{where}: unknown freq {freq!r} (expected one of {', '.join(FREQS)})")
    for name, frame in (("history", history), ("forecast", forecast)):
        if frame.empty:
            raise ValueError(f"{where}: {name} is empty")
        if S.SERIES_ID in frame.columns and frame[S.SERIES_ID].nunique() > 1:
            raise ValueError(f"{where}: {name} holds {frame[S.SERIES_ID].nunique()} series, expected one")
    save_format = None
    if path is not None:
        save_format = _SAVE_FORMATS.get(Path(path).suffix.lower())
        if save_format is None:
            raise ValueError(f"{where}: cannot save to {path}: expected a .png or .pdf file")

    use_cjk_font()
    hist = history.sort_values(S.DS).tail(history_periods or HISTORY_PERIODS[freq])
    fc = forecast.sort_values(S.DS)
    if not subtitle and S.MODEL in fc.columns:
        subtitle = "模型：" + "、".join(str(m) for m in fc[S.MODEL].dropna().unique())

    fig = Figure(figsize=FIGSIZE, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _draw_history(ax, hist)
    _draw_forecast(ax, hist, fc)
    _style_axes(ax, freq)
    fig.suptitle(title, x=0.01, ha="left", fontsize=15)  # the font has one weight: size, not bold, sets the title apart
    if subtitle:
        ax.set_title(subtitle, loc="left", fontsize=10, color=_MUTED)
    _add_legend(ax)

    if path is not None:
        metadata = {"CreationDate": None} if save_format == "pdf" else {}  # same input, same bytes
        fig.savefig(path, format=save_format, dpi=DPI, metadata=metadata)
    return fig


def _draw_history(ax: Axes, hist: pd.DataFrame) -> None:
    """History as a solid line; the periods whose nowcast ``y`` exceeds ``y_observed`` dashed, with the
    cases entered so far as hollow markers (a solid line through them would read as a collapse)."""
    ds = pd.DatetimeIndex(hist[S.DS])
    y = hist[S.Y].to_numpy(dtype=float)
    observed = y
    if S.Y_OBSERVED in hist.columns:
        observed = hist[S.Y_OBSERVED].to_numpy(dtype=float)
        observed = np.where(np.isnan(observed), y, observed)
    # a visible correction only: half a case, or 2% (a few late petitions in a hotline series are not shown)
    late = (y - observed) > np.maximum(0.5, 0.02 * y)
    ax.plot(ds, np.where(late, np.nan, y), color=_HISTORY_COLOR, linewidth=1.6, label=LABEL_HISTORY,
            zorder=4)
    if late.any():
        # Join each run of nowcast periods to the settled period before it.
        shown = late | np.append(late[1:], False)
        ax.plot(ds, np.where(shown, y, np.nan), color=_HISTORY_COLOR, linewidth=1.6,
                linestyle=(0, (3, 2)), label=LABEL_NOWCAST, zorder=4)
        ax.plot(ds[late], observed[late], linestyle="none", marker="o", markersize=4,
                markerfacecolor="white", markeredgecolor=_HISTORY_COLOR, markeredgewidth=1.0,
                label=LABEL_OBSERVED, zorder=4)


def _draw_forecast(ax: Axes, hist: pd.DataFrame, fc: pd.DataFrame) -> None:
    ds = pd.DatetimeIndex(fc[S.DS])
    values = {c: fc[c].to_numpy(dtype=float) for c in (S.YHAT, *S.INTERVAL_COLUMNS)}
    origin_ds = pd.Timestamp(hist[S.DS].iloc[-1])
    if ds[0] > origin_ds:
        # Start the fan at the last history point (the nowcast) so the forecast reads as its continuation.
        origin_y = float(hist[S.Y].iloc[-1])
        ds = ds.insert(0, origin_ds)
        values = {c: np.insert(v, 0, origin_y) for c, v in values.items()}
    ax.fill_between(ds, values[S.YHAT_LOWER_95], values[S.YHAT_UPPER_95], color=_FORECAST_COLOR,
                    alpha=0.15, linewidth=0, label=LABEL_BAND_95, zorder=1)
    ax.fill_between(ds, values[S.YHAT_LOWER_80], values[S.YHAT_UPPER_80], color=_FORECAST_COLOR,
                    alpha=0.30, linewidth=0, label=LABEL_BAND_80, zorder=2)
    ax.plot(ds, values[S.YHAT], color=_FORECAST_COLOR, linewidth=1.8, label=LABEL_FORECAST, zorder=5)
    ax.axvline(origin_ds, color=_MUTED, linewidth=1.0, linestyle=":", label=LABEL_ORIGIN, zorder=3)


def _style_axes(ax: Axes, freq: str) -> None:
    ax.set_xlabel(X_LABELS[freq])
    ax.set_ylabel(Y_LABEL)
    ax.set_ylim(0, max(ax.get_ylim()[1], 1.0))  # from 0; an all-zero series still gets a scale
    ax.margins(x=0.01)
    locator = mdates.AutoDateLocator(minticks=5, maxticks=12)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(_DateFormatter())
    ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins=6, integer=True))
    ax.yaxis.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}"))
    ax.grid(True, axis="y", color="#d9d9d9", linewidth=0.7)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _add_legend(ax: Axes) -> None:
    handles, labels = ax.get_legend_handles_labels()
    order = [LABEL_HISTORY, LABEL_NOWCAST, LABEL_OBSERVED, LABEL_FORECAST, LABEL_BAND_80, LABEL_BAND_95, LABEL_ORIGIN]
    pairs = sorted(zip(handles, labels, strict=True), key=lambda hl: order.index(hl[1]))
    ax.legend([h for h, _ in pairs], [lb for _, lb in pairs], loc="upper left", ncols=len(pairs),
              frameon=False, fontsize=9, handlelength=2.2, columnspacing=1.2,
              bbox_to_anchor=(0.0, -0.13))


class _DateFormatter(ticker.Formatter):
    """Numeric dates readable in Chinese: ``2026年`` for yearly ticks, ``2026-03`` for monthly,
    ``2026-03-09`` for finer ones (month names would come out in English)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return mdates.num2date(x).strftime("%Y-%m-%d")

    def format_ticks(self, values: Sequence[float]) -> list[str]:
        step = float(np.min(np.diff(values))) if len(values) > 1 else 0.0
        fmt = "%Y年" if step >= 365 else "%Y-%m" if step >= 28 else "%Y-%m-%d"
        return [mdates.num2date(v).strftime(fmt) for v in values]


def figure_image(fig: Figure, fmt: str = "svg") -> bytes:
    """The figure as image bytes for a report ``document.Figure``: ``svg`` (vector, text as paths, so no
    font is needed to show it) or ``png`` at 150 dpi. The same figure gives the same bytes (no date in the
    file, fixed SVG ids)."""
    import io

    import matplotlib

    if fmt not in ("svg", "png"):
        raise ValueError(f"figure_image: format {fmt!r}, expected svg or png")
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    with matplotlib.rc_context({"svg.hashsalt": _SVG_SALT, "svg.fonttype": "path"}):
        fig.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata)
    return buffer.getvalue()
