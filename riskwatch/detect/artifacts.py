"""Is a volume spike an artifact of data entry rather than a surge of complaints? (pure)

A spike's excess (observed - expected) is attributed to components: one source's registrations on one
day, one source, one handling unit. Each component has its own expected count from the baseline (a
source's or unit's usual share x the series' expected; for one day, the source's usual registrations per
day on which it registered anything, so offices that log on weekdays only are not penalized), and its
excess over that is compared with the spike's excess. Under a real surge spread like the usual mix, a
component supplies about its usual share of the excess; an artifact puts most of the excess into one
component far beyond its usual part. Checked in order (the first that holds wins):

- ``batch_entry``: one source registered (``registered_at``, else ``received_at``) on one day a count far
  above its usual registrations per active day, explaining most of the excess (a clerk's batch or a
  backfill; an export that also stamps ``received_at`` with the entry day is caught the same way);
- ``one_source``: one source supplies most of the excess, far more than its usual share (so a series
  with only one source, whose usual share is 100%, is never labelled);
- ``one_unit``: likewise for one handling unit (blank units are not attributed).

Limitation: a real one-day surge (a storm, a burst pipe) is concentrated on one registration day too and
can be labelled ``batch_entry``; the note says 登记 rather than 补录 when the cases were received that day.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from riskwatch import schema as S
from riskwatch.text import strip_text

NEEDED: tuple[str, ...] = (S.SOURCE, S.RECEIVED_AT, S.REGISTERED_AT, S.HANDLING_UNIT)
REAL, ONE_SOURCE, BATCH_ENTRY, ONE_UNIT = "", "one_source", "batch_entry", "one_unit"
Phrase = Callable[[str, int, float], str]  # (what, count in the period, usual share) -> note


@dataclass(frozen=True)
class ArtifactOptions:
    """Thresholds of :func:`label_artifact`.

    min_excess : an excess below this many cases is too small to attribute (label "").
    min_explained : a component must explain at least this share of the excess ("most of it").
    min_share_gap : ... and exceed its usual share of the period by this much: under a real surge a
        component's part of the excess is about its usual share, so the gap is about 0.
    alpha : a source's / unit's period share must also be above its usual share by a binomial test at this
        level, so a few cases in a small series do not make an artifact by chance.
    batch_ratio : a batch day has at least this many times the source's usual registrations per active day.
    min_baseline_cases : usual shares are judged only on at least this many baseline cases.
    """

    min_excess: float = 5.0
    min_explained: float = 0.7
    min_share_gap: float = 0.3
    alpha: float = 0.01
    batch_ratio: float = 3.0
    min_baseline_cases: int = 20


@dataclass(frozen=True)
class ArtifactLabel:
    label: str  # "" (a real surge), "one_source", "batch_entry", "one_unit"
    share: float  # share of the period's excess explained by that source / day / unit (0..1)
    what: str  # the source / unit name or the entry day (ISO), "" when label == ""
    note: str  # short Chinese phrase for the sentence, "" when real


NOT_ARTIFACT = ArtifactLabel(REAL, 0.0, "", "")


def label_artifact(period_cases: pd.DataFrame, baseline_cases: pd.DataFrame, expected: float,
                   baseline_periods: int, options: ArtifactOptions = ArtifactOptions(),
                   source_labels: Mapping[str, str] | None = None) -> ArtifactLabel:
    """Label a spiking series-period: ``batch_entry``, ``one_source``, ``one_unit`` or "" (real).

    ``period_cases`` are the cases counted in the period, ``baseline_cases`` the same series' cases over
    the previous ``baseline_periods`` periods, ``expected`` the detector's expected count for the period.
    ``source_labels`` (source name -> label) only changes the note's wording.
    """
    S.require_columns(period_cases.columns, NEEDED, "label_artifact (period_cases)")
    S.require_columns(baseline_cases.columns, NEEDED, "label_artifact (baseline_cases)")
    observed = len(period_cases)
    excess = observed - float(expected)
    if not np.isfinite(excess) or excess < options.min_excess:
        return NOT_ARTIFACT
    labels = source_labels or {}
    found = _batch(period_cases, baseline_cases, excess, options, labels)
    if found is None and baseline_periods >= 1 and len(baseline_cases) >= options.min_baseline_cases:
        found = (_concentrated(period_cases[S.SOURCE], baseline_cases[S.SOURCE], expected, excess, options,
                               ONE_SOURCE, lambda v, n, s: f"主要来自 {labels.get(v, v)}（本期 {n} 件，通常占 {s:.0%}）")
                 or _concentrated(_units(period_cases), _units(baseline_cases), expected, excess, options,
                                  ONE_UNIT, lambda v, n, s: f"集中于 {v}（本期 {n} 件，通常占 {s:.0%}）"))
    return found or NOT_ARTIFACT


def _entry_day(cases: pd.DataFrame) -> pd.Series:
    """The calendar day each case was entered: ``registered_at``, else ``received_at``."""
    registered = pd.to_datetime(cases[S.REGISTERED_AT])
    return registered.fillna(pd.to_datetime(cases[S.RECEIVED_AT])).dt.normalize()


def _units(cases: pd.DataFrame) -> pd.Series:
    """Handling units, blanks as missing (not attributable)."""
    return strip_text(cases[S.HANDLING_UNIT])


def _batch(period: pd.DataFrame, baseline: pd.DataFrame, excess: float, options: ArtifactOptions,
           labels: Mapping[str, str]) -> ArtifactLabel | None:
    """The (source, entry day) whose registrations beyond the source's usual day explain the excess."""
    day = _entry_day(period)
    counts = pd.DataFrame({"source": period[S.SOURCE].astype(str).to_numpy(), "day": day.to_numpy()}) \
        .groupby(["source", "day"]).size()
    if counts.empty:
        return None
    base = pd.DataFrame({"source": baseline[S.SOURCE].astype(str).to_numpy(),
                         "day": _entry_day(baseline).to_numpy()})
    per_day = base.groupby("source").size() / base.groupby("source")["day"].nunique()
    usual = per_day.reindex(counts.index.get_level_values("source")).fillna(0.0).to_numpy()
    explained = (counts.to_numpy() - usual) / excess
    ok = (explained >= options.min_explained) & (counts.to_numpy() >= options.batch_ratio * usual)
    if not ok.any():
        return None
    best = _best(explained, counts.index, ok)
    source, entry = counts.index[best]
    n = int(counts.iloc[best])
    mask = ((period[S.SOURCE].astype(str) == source) & (day == entry)).to_numpy()
    backfilled = (pd.to_datetime(period[S.RECEIVED_AT]).to_numpy()[mask] < np.datetime64(entry)).mean() > 0.5
    verb = "补录" if backfilled else "登记"
    note = f"集中于 {entry.date().isoformat()} 一天{verb} {n} 件（{labels.get(source, source)}）"
    return ArtifactLabel(BATCH_ENTRY, _clip(explained[best]), entry.date().isoformat(), note)


def _concentrated(period: pd.Series, baseline: pd.Series, expected: float, excess: float,
                  options: ArtifactOptions, label: str, phrase: Phrase) -> ArtifactLabel | None:
    """The component (source or unit) supplying most of the excess, far above its usual share."""
    counts = period.dropna().astype(str).value_counts()
    if counts.empty:
        return None
    share = baseline.dropna().astype(str).value_counts().reindex(counts.index).fillna(0.0).to_numpy() \
        / len(baseline)
    n = counts.to_numpy()
    explained = (n - share * float(expected)) / excess
    p_value = stats.binom.sf(n - 1, len(period), share)
    ok = (explained >= options.min_explained) & (explained - share >= options.min_share_gap) \
        & (p_value <= options.alpha)
    if not ok.any():
        return None
    best = _best(explained, counts.index, ok)
    what = str(counts.index[best])
    return ArtifactLabel(label, _clip(explained[best]), what, phrase(what, int(n[best]), float(share[best])))


def _best(explained: np.ndarray, keys: pd.Index, ok: np.ndarray) -> int:
    """Position of the qualifying component explaining the most; ties to the smallest key (row order
    never matters)."""
    return min((int(i) for i in np.flatnonzero(ok)),
               key=lambda i: (-round(float(explained[i]), 12), str(keys[i])))


def _clip(x: float) -> float:
    return float(min(max(x, 0.0), 1.0))
