"""One plain Chinese sentence per volume signal, with its numbers (pure).

«劳动社保›欠薪 · 某街道：10 月 19 日当周 37 件，预期 12 件（预警上限 21），为 2023 年 1 月以来最高»

The period is named by its date, not «本周»: a signal that stays open shows the numbers of the period that
last supported it, and the sentence must stay true when it is read a week later.
"""

from __future__ import annotations

import math

import pandas as pd

RECENT = {"W": 8, "M": 3, "D": 14}   # "highest since" closer than this many periods is not news


def count(x: float) -> str:
    """A count as people say it: whole numbers from 10 up, one decimal below."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.0f}" if abs(x) >= 10 or float(x).is_integer() else f"{x:.1f}"


def month_text(ts: pd.Timestamp) -> str:
    return f"{ts.year} 年 {ts.month} 月"


def day_text(t: pd.Timestamp | None, as_of: pd.Timestamp) -> str:
    """``10 月 28 日``; with the year when it is not the year of the period ending just before ``as_of``."""
    if t is None:
        return ""
    md = f"{t.month} 月 {t.day} 日"
    return md if t.year == (as_of - pd.Timedelta(days=1)).year else f"{t.year} 年 {md}"


def period_text(start: pd.Timestamp, freq: str) -> str:
    """«10 月 19 日当周», «2026 年 10 月», «10 月 19 日»."""
    start = pd.Timestamp(start)
    if freq == "M":
        return month_text(start)
    return f"{start.month} 月 {start.day} 日" + ("当周" if freq == "W" else "")


def highest_since(history: pd.Series, observed: float, freq: str) -> str:
    """«为 2023 年 1 月以来最高» when no period since then reached ``observed``, «为有记录以来最高» when none
    ever did, "" when a recent period did. ``history``: earlier counts indexed by period start."""
    past = history.dropna()
    if past.empty:
        return ""
    higher = past.index[past.to_numpy() >= observed]
    if len(higher) == 0:
        return "为有记录以来最高"
    after = past.index[past.index > higher.max()]
    if len(after) < RECENT[freq]:
        return ""
    return f"为 {month_text(pd.Timestamp(after.min()))}以来最高"


def beyond_forecast(observed: float, forecast_upper: float | None) -> str:
    """«超出预测 95% 上限 19» when the week's count is above the bound a forecast made before it gave."""
    if forecast_upper is None or math.isnan(forecast_upper) or observed <= forecast_upper:
        return ""
    return f"超出预测 95% 上限 {count(forecast_upper)}"


def spike_sentence(label: str, period: pd.Timestamp, observed: float, expected: float, upper: float, freq: str,
                   since: str = "", note: str = "") -> str:
    text = f"{label}：{period_text(period, freq)} {count(observed)} 件，预期 {count(expected)} 件（预警上限 {count(upper)}）"
    text += f"，{since}" if since else ""
    return text + (f"；{note}" if note else "")


def rise_sentence(label: str, period: pd.Timestamp, periods: int, observed: float, expected: float, freq: str,
                  note: str = "") -> str:
    unit = {"W": "周", "M": "个月", "D": "天"}[freq]
    pct = (observed / expected - 1) * 100 if expected > 0 else float("nan")
    rise = f"，高出 {pct:.0f}%" if not math.isnan(pct) else ""
    text = (f"{label}：截至 {period_text(period, freq)}，近 {periods} {unit}共 {count(observed)} 件，预期 {count(expected)} 件{rise}，"
            "持续高于预期")
    return text + (f"；{note}" if note else "")


def shift_sentence(label: str, start: pd.Timestamp, ratio: float, level_after: float, freq: str) -> str:
    unit = {"W": "每周", "M": "每月", "D": "每天"}[freq]
    before = level_after / ratio
    if before < 0.1:
        return (f"{label}：自 {month_text(start)}起新出现（{unit}约 {count(level_after)} 件，此前几乎没有），"
                "已按新水平调整基线")
    direction = "上升" if ratio >= 1 else "下降"
    return (f"{label}：自 {month_text(start)}起水平{direction}约 {abs(ratio - 1) * 100:.0f}%"
            f"（{unit}约 {count(level_after)} 件，此前约 {count(before)} 件），"
            "已按新水平调整基线")
