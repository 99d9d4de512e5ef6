"""The charts of the monthly report and the weekly briefing (matplotlib, object-oriented API, Chinese text).

Every chart is drawn ``pdf.TEXT_WIDTH_INCHES`` wide so that it prints at its own font sizes, in black, greys,
line styles and hatching only (legible printed in black and white), and has no title of its own: the
document's caption is its title. Each function takes plain frames and returns SVG bytes
(``charts.figure_image``): the same data give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from riskwatch.report.charts import figure_image
from riskwatch.report.fonts import use_cjk_font
from riskwatch.report.pdf import TEXT_WIDTH_INCHES

INK = "#000000"
DARK = "#404040"
MID = "#808080"
LIGHT = "#c8c8c8"
FONT_SIZE = 9


def _figure(height: float) -> tuple[Figure, Axes]:
    use_cjk_font()
    fig = Figure(figsize=(TEXT_WIDTH_INCHES, height), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=FONT_SIZE)
    return fig, ax


def category_bars(labels: Sequence[str], current: Sequence[float], previous: Sequence[float],
                  current_label: str, previous_label: str) -> bytes:
    """Horizontal bars per category: this period (solid dark) beside a base period (light, hatched),
    largest first from the top."""
    n = len(labels)
    fig, ax = _figure(max(1.8, 0.32 * n + 0.8))
    y = np.arange(n)[::-1]
    h = 0.38
    ax.barh(y + h / 2, current, height=h, color=DARK, label=current_label)
    ax.barh(y - h / 2, previous, height=h, color="white", edgecolor=MID, hatch="////", linewidth=0.6,
            label=previous_label)
    ax.set_yticks(y, list(labels), fontsize=FONT_SIZE)
    ax.xaxis.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel("件数", fontsize=FONT_SIZE)
    ax.grid(True, axis="x", color=LIGHT, linewidth=0.6)
    ax.set_axisbelow(True)
    ax.legend(loc="lower right", frameon=False, fontsize=FONT_SIZE)
    return figure_image(fig)


def signal_chart(weeks: pd.DataFrame, period: pd.Timestamp, expected: float | None, upper: float | None) -> bytes:
    """One series' weekly counts (``ds, y``) with the signal's week marked, its expected count (dashed) and
    its warning bound (dotted)."""
    fig, ax = _figure(1.9)
    ds = pd.DatetimeIndex(weeks["ds"])
    y = weeks["y"].to_numpy(dtype=float)
    ax.plot(ds, y, color=INK, linewidth=1.3, marker="o", markersize=2.5, label="每周受理量")
    hit = ds == pd.Timestamp(period)
    if hit.any():
        ax.plot(ds[hit], y[hit], linestyle="none", marker="s", markersize=7, markerfacecolor="white",
                markeredgecolor=INK, markeredgewidth=1.4, label="信号周")
    if expected is not None and np.isfinite(expected):
        ax.axhline(expected, color=MID, linewidth=1.0, linestyle=(0, (5, 3)), label=f"预期 {expected:.1f}")
    if upper is not None and np.isfinite(upper):
        ax.axhline(upper, color=DARK, linewidth=1.0, linestyle=(0, (1, 2)), label=f"预警上限 {upper:.0f}")
    ax.set_ylim(0, max(float(np.nanmax(y)) if len(y) else 1.0, upper or 0, 1.0) * 1.15)
    ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins=4, integer=True))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda x, _: _month_day(x)))
    ax.grid(True, axis="y", color=LIGHT, linewidth=0.6)
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", frameon=False, fontsize=FONT_SIZE - 1, ncols=4)
    return figure_image(fig)


def _month_day(x: float) -> str:
    from matplotlib import dates as mdates

    d = mdates.num2date(x)
    return f"{d.month}月{d.day}日"


def forecast_ranges(labels: Sequence[str], yhat: Sequence[float], lo80: Sequence[float], hi80: Sequence[float],
                    lo95: Sequence[float], hi95: Sequence[float], actual: Sequence[float] | None = None,
                    actual_label: str = "") -> bytes:
    """Per category the forecast (a black diamond) with its 80% (thick) and 95% (thin) intervals, and
    optionally a reference count (a hollow circle)."""
    n = len(labels)
    fig, ax = _figure(max(1.8, 0.32 * n + 0.8))
    y = np.arange(n)[::-1]
    ax.hlines(y, lo95, hi95, color=MID, linewidth=1.0, label="95% 区间")
    ax.hlines(y, lo80, hi80, color=DARK, linewidth=4.0, label="80% 区间")
    ax.plot(yhat, y, linestyle="none", marker="D", markersize=5, color=INK, label="预测值")
    if actual is not None:
        ax.plot(actual, y, linestyle="none", marker="o", markersize=5, markerfacecolor="white",
                markeredgecolor=INK, label=actual_label)
    ax.set_yticks(y, list(labels), fontsize=FONT_SIZE)
    ax.xaxis.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel("件数", fontsize=FONT_SIZE)
    ax.set_xlim(left=0)
    ax.grid(True, axis="x", color=LIGHT, linewidth=0.6)
    ax.set_axisbelow(True)
    ax.legend(loc="lower right", frameon=False, fontsize=FONT_SIZE - 1)
    return figure_image(fig)


def network_chart(edges: pd.DataFrame, membership: Mapping[str, str], labels: Mapping[str, str]) -> bytes:
    """The persons of a few groups and the cases that tie them, one panel per group (labelled under it):
    ``edges`` (``a, b, weight``: persons sharing ``weight`` cases), ``membership`` person -> group,
    ``labels`` group -> its label. A person with more ties is drawn larger and darker; layout seeded (same
    bytes). PNG bytes."""
    import networkx as nx

    groups = sorted(set(membership.values()))
    use_cjk_font()
    cols = max(1, min(4, len(groups)))
    fig = Figure(figsize=(TEXT_WIDTH_INCHES, 2.1), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, cols, squeeze=False)[0]
    for ax, group in zip(axes, groups[:cols], strict=False):
        ax.axis("off")
        nodes = sorted(p for p, g in membership.items() if g == group)
        graph = nx.Graph()
        graph.add_nodes_from(nodes)
        own = edges[edges["a"].isin(nodes) & edges["b"].isin(nodes)]
        for a, b, w in own[["a", "b", "weight"]].itertuples(index=False):
            graph.add_edge(a, b, weight=float(w))
        pos = nx.spring_layout(graph, seed=7, k=2.5 / np.sqrt(max(len(nodes), 1)), iterations=60)
        widths = [0.2 + 0.3 * min(d["weight"], 4) for _, _, d in graph.edges(data=True)]
        nx.draw_networkx_edges(graph, pos, ax=ax, edge_color=LIGHT, width=widths)
        degree = dict(graph.degree())
        top = max(degree.values(), default=1) or 1
        nx.draw_networkx_nodes(graph, pos, ax=ax, node_size=[8 + 40 * degree[p] / top for p in nodes],
                               node_color=[str(0.85 - 0.85 * degree[p] / top) for p in nodes],
                               edgecolors=INK, linewidths=0.4)
        ax.set_title(labels.get(group, group), fontsize=FONT_SIZE, y=-0.12)
    for ax in axes[len(groups):]:
        ax.axis("off")
    return figure_image(fig, "png")  # thousands of edges: a PNG is smaller and faster than their SVG paths
