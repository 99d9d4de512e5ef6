"""Daily expected volumes per category and stream, with the history's breaks (pure numpy).

Streams: ``hotline`` (12345, and 12328 for transport before the merge), ``office`` (petition letters,
visits and calls logged by the office on working days) and ``web`` (网上信访).
Every knob of the synthetic city lives here or in ``model``; nothing in ``config/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from riskwatch import calendar as cal

# code -> (cases a week city-wide at scale 1, petition share, busiest month or 0 for random)
CATEGORY_PROFILE: dict[str, tuple[float, float, int]] = {
    "0101": (40, 0.35, 1), "0102": (12, 0.2, 0), "0103": (10, 0.2, 3), "0104": (6, 0.5, 0),
    "0201": (8, 0.8, 0), "0202": (10, 0.6, 0), "0203": (90, 0.08, 7), "0204": (25, 0.2, 0),
    "0205": (6, 0.3, 0), "0301": (15, 0.02, 0), "0302": (30, 0.02, 8), "0303": (12, 0.02, 0),
    "0304": (20, 0.05, 5), "0305": (60, 0.05, 0), "0401": (120, 0.04, 7), "0402": (25, 0.1, 7),
    "0403": (6, 0.2, 8), "0501": (80, 0.05, 11), "0502": (15, 0.05, 6), "0503": (8, 0.1, 0),
    "0504": (3, 0.8, 0), "0601": (10, 0.2, 8), "0602": (5, 0.6, 0), "0603": (3, 0.1, 0),
    "0701": (4, 0.95, 0), "0702": (15, 0.1, 0), "0801": (3, 0.7, 0), "0802": (3, 0.8, 0),
    "0901": (4, 0.5, 0), "0902": (2, 0.9, 0),
}
VOLUME_FACTOR = 1.05          # the demo lands near 200,000 cases over 5 years
WEB_SHARE = 0.3               # of petitions
WEEKEND = {"hotline": 0.37, "office": 0.04, "web": 0.6}
TRANSPORT_PREFIX = "03"
SHARE_12328 = 0.45            # of transport hotline calls before the merge
MERGE_CHANNEL_12328 = 0.4     # after the merge, share of transport calls still labelled 12328热线
PANDEMIC_SHIFT = {"0501": 1.3, "0503": 1.6, "0401": 0.8, "0302": 0.55, "0301": 0.6, "0601": 0.85}
TYPHOON_CATEGORIES = ("0304", "0203", "0403", "0302")
SENSITIVE_FOR_PETITIONS = ("two_sessions", "national_day", "party_congress")


@dataclass
class Breaks:
    """Dates and labels of the breaks in the history (written to truth/breaks.csv)."""

    rows: list[dict[str, object]] = field(default_factory=list)
    merge_day: int = 0
    batch_day: int = -1
    pandemic: tuple[int, int] = (0, 0)

    def add(self, kind: str, subject: str, start: date, end: date, factor: float, note: str) -> None:
        self.rows.append({"kind": kind, "subject": subject, "start": start.isoformat(),
                          "end": end.isoformat(), "factor": round(factor, 3), "note": note})


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], phi: float, sd: float) -> np.ndarray:
    """AR(1) along the last axis with marginal standard deviation ``sd``."""
    eps = rng.normal(0.0, sd * np.sqrt(1 - phi**2), shape)
    out = np.empty(shape)
    out[..., 0] = rng.normal(0.0, sd, shape[:-1])
    for t in range(1, shape[-1]):
        out[..., t] = phi * out[..., t - 1] + eps[..., t]
    return out


def daily_rates(
    rng: np.random.Generator, codes: list[str], days: pd.DatetimeIndex, scale: float,
    windows: pd.DataFrame, breaks: Breaks,
) -> dict[str, np.ndarray]:
    """Expected cases per (category, day) for each stream, latent noise included (C x D arrays)."""
    c_n, d_n = len(codes), len(days)
    t = np.arange(d_n)
    years_f = t / 365.25
    start, end = days[0].date(), days[-1].date()
    profile = [CATEGORY_PROFILE.get(c, (float(np.exp(rng.normal(1.0, 1.0))), 0.3, 0)) for c in codes]
    base = np.array([p[0] for p in profile]) / 7.0 * scale * VOLUME_FACTOR
    pshare = np.array([p[1] for p in profile])
    # trend: city growth plus a per-category slope
    slope = 0.04 + rng.normal(0, 0.06, c_n)
    level = np.exp(slope[:, None] * years_f[None, :])
    # yearly seasonality: busiest month 1.7-2.5x the quietest
    peak = np.array([(p[2] - 0.5) * 30.4 if p[2] else rng.uniform(0, 365) for p in profile])
    amp = rng.uniform(0.28, 0.45, c_n)
    doy = days.day_of_year.to_numpy()
    season = np.exp(amp[:, None] * np.cos(2 * np.pi * (doy[None, :] - peak[:, None]) / 365.25))
    mult = level * season
    idx = {c: i for i, c in enumerate(codes)}

    # Spring Festival dip and the pre-festival wage-arrears surge
    hot_dip = np.ones(d_n)
    for y in range(start.year, end.year + 2):
        sf = pd.Timestamp(cal.spring_festival(y))
        rel = (days - sf).days.to_numpy()
        hot_dip[(rel >= -1) & (rel <= 6)] *= 0.45
        hot_dip[(rel > 6) & (rel <= 14)] *= 0.8
        if "0101" in idx:
            ramp = np.where((rel >= -42) & (rel <= -2), 1 + 2.0 * (rel + 42) / 40.0, 1.0)
            mult[idx["0101"]] *= ramp
    mult *= hot_dip[None, :]

    # pandemic: 0603 is born, others shift for a year and a half
    p0 = int(0.30 * d_n)
    p1 = min(d_n, p0 + max(180, int(0.33 * d_n)))
    breaks.pandemic = (p0, p1)
    if "0603" in idx:
        k = idx["0603"]
        wave = np.zeros(d_n)
        span = np.arange(p1 - p0)
        wave[p0:p1] = 60.0 / 7 * (0.3 + np.abs(np.sin(span / 120.0 * np.pi)))
        wave[p1:] = 3.0 / 7
        mult[k] *= wave / max(base[k], 1e-9)
        breaks.add("category_born", "0603", days[p0].date(), end, 1.0, "疫情防控 appears with the pandemic")
    for code, f in PANDEMIC_SHIFT.items():
        if code in idx:
            mult[idx[code], p0:p1] *= f
            breaks.add("level_shift", code, days[p0].date(), days[p1 - 1].date(), f, "pandemic shift")
    # a category born mid-history (加装电梯 policy)
    if "0205" in idx:
        b = int(0.55 * d_n)
        ramp = np.clip((t - b) / 56.0, 0, 1)
        mult[idx["0205"]] *= ramp
        breaks.add("category_born", "0205", days[b].date(), end, 1.0, "老旧小区改造 programme starts")
    # a policy level shift (new parking charges)
    if "0305" in idx:
        s = int(0.65 * d_n)
        mult[idx["0305"], s:] *= 1.7
        breaks.add("level_shift", "0305", days[s].date(), end, 1.7, "new parking fee policy")
    # typhoons: one category x5-10 for a week, in about half the summers
    for y in range(start.year, end.year + 1):
        if rng.random() < 0.6:
            day0 = pd.Timestamp(date(y, 7, 15)) + pd.Timedelta(days=int(rng.integers(0, 62)))
            cat = TYPHOON_CATEGORIES[int(rng.integers(0, len(TYPHOON_CATEGORIES)))]
            if cat in idx and days[0] <= day0 <= days[-1] - pd.Timedelta(days=7):
                f = float(rng.uniform(5, 10))
                i0 = int((day0 - days[0]).days)
                mult[idx[cat], i0:i0 + 7] *= f
                breaks.add("typhoon", cat, day0.date(), (day0 + pd.Timedelta(days=6)).date(), f, "typhoon week")

    # latent multiplicative noise: city-wide and per-category AR(1) by week, daily gamma
    weeks = t // 7
    n_weeks = int(weeks[-1]) + 1
    city = _ar1(rng, (n_weeks,), 0.5, 0.08)[weeks]
    percat = _ar1(rng, (c_n, n_weeks), 0.5, 0.22)[:, weeks]
    daily = rng.gamma(8.0, 1 / 8.0, (c_n, d_n))
    noise = np.exp(city[None, :] + percat - 0.5 * (0.08**2 + 0.22**2)) * daily
    lam = base[:, None] * mult * noise

    # weekday pattern (official calendar: holidays are rest days, 补班 days are working days)
    working = np.array([cal.is_working_day(d.date()) for d in days])
    mon = (days.day_of_week.to_numpy() == 0) & working

    def weekday(kind: str) -> np.ndarray:
        w = np.where(working, 1.0, WEEKEND[kind])
        w = np.where(mon, w * 1.12, w)
        return w / (5 + 2 * WEEKEND[kind]) * 7

    # sensitive periods: more petitions during and just before
    sens = np.ones(d_n)
    for _, row in windows.iterrows():
        if row["period_id"] in SENSITIVE_FOR_PETITIONS:
            sel = (days >= row["lead_start"]) & (days <= row["end"])
            sens[sel] = 1.35
    out = {
        "hotline": lam * (1 - pshare[:, None]) * weekday("hotline")[None, :],
        "office": lam * pshare[:, None] * (1 - WEB_SHARE) * (weekday("office") * sens)[None, :],
        "web": lam * pshare[:, None] * WEB_SHARE * (weekday("web") * sens)[None, :],
    }
    return out


def working_days(days: pd.DatetimeIndex, extra: int = 60) -> np.ndarray:
    """Working days (``datetime64[D]``) from the first day to ``extra`` days after the last."""
    span = pd.date_range(days[0], days[-1] + timedelta(days=extra), freq="D")
    return np.array([d for d in span.to_numpy().astype("datetime64[D]")
                     if cal.is_working_day(pd.Timestamp(d).date())], dtype="datetime64[D]")
