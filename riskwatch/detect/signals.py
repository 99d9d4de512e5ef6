"""From one period's scores of every series to volume findings (pure).

``volume_findings``: false-discovery control over the series, one signal per event across the trees
(``multiple``), and the support that keeps open signals open (``lifecycle``). ``describe`` writes the
sentence of each finding; ``shift_findings`` turns confirmed level shifts into one signal each.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.detect import combine as C
from riskwatch.detect import sentences
from riskwatch.detect.lifecycle import SignalPolicy, confirm_reversal, confirm_shift
from riskwatch.detect.multiple import benjamini_hochberg, explained_by, parents, part_of
from riskwatch.forecast.series import CATEGORY, LABEL, REGION
from riskwatch.schema import FORECAST_UPPER as FORECAST_UPPER  # optional score column: a forecast's 95% bound
from riskwatch.schema import SignalKind

WEEK_SCORE_COLUMNS: tuple[str, ...] = (S.SERIES_ID, S.DS, *C.SCORE_COLUMNS)


def alarm_p_values(scores: pd.DataFrame) -> np.ndarray:
    """The p-value of each series' alarm: the spike's, the rise's, the smaller of both when both fired;
    the spike detector's p-value when neither did (the series was still tested)."""
    spike_p = scores[S.P_VALUE].to_numpy(dtype=float)
    rise_p = scores[C.RISE_P].to_numpy(dtype=float)
    spike, rise = scores[C.SPIKE].to_numpy(bool), scores[C.RISE].to_numpy(bool)
    both = np.fmin(spike_p, rise_p)
    return np.where(spike & rise, both, np.where(rise, rise_p, spike_p))


def _rows(sel: pd.DataFrame, catalog: pd.DataFrame, p: pd.Series) -> pd.DataFrame:
    kind = np.where(sel[C.SPIKE], SignalKind.SPIKE.value, SignalKind.RISE.value)
    forecast = sel[FORECAST_UPPER].to_numpy(float) if FORECAST_UPPER in sel else np.full(len(sel), np.nan)
    cat = catalog.set_index(S.SERIES_ID).reindex(sel[S.SERIES_ID])
    return pd.DataFrame({
        S.SIGNAL_KEY: [f"{k}:{sid}" for k, sid in zip(kind, sel[S.SERIES_ID], strict=True)],
        S.KIND: kind, S.SUBJECT: sel[S.SERIES_ID].to_numpy(), S.CATEGORY_CODE: cat[CATEGORY].to_numpy(),
        S.REGION_CODE: cat[REGION].to_numpy(), S.PERIOD: sel[S.DS].to_numpy(),
        S.OBSERVED: sel[S.OBSERVED].to_numpy(float), S.EXPECTED: sel[S.EXPECTED].to_numpy(float),
        S.UPPER: sel[S.UPPER].to_numpy(float), S.P_VALUE: p.reindex(sel.index).to_numpy(float), S.LABEL: "",
        S.SENTENCE: "",
        S.EVIDENCE: [{"detector": d, "rise_periods": int(r), "rise_observed": float(ro),
                      "rise_expected": float(re), **({FORECAST_UPPER: round(float(f), 3)} if f == f else {})}
                     for d, r, ro, re, f in zip(sel[C.DETECTOR], sel[C.RISE_RUN], sel[C.RISE_OBSERVED],
                                                sel[C.RISE_EXPECTED], forecast, strict=True)],
    }, columns=list(S.SIGNAL_COLUMNS))


def volume_findings(scores: pd.DataFrame, catalog: pd.DataFrame, open_subjects: set[str],
                    policy: SignalPolicy) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(findings, support) of one period, rows with ``SIGNAL_COLUMNS`` (sentences still empty).

    ``scores``: one row per series with ``WEEK_SCORE_COLUMNS``; ``open_subjects``: series with an open
    volume signal. A finding is an alarm kept by the BH procedure at ``policy.fdr_q``, not explained by
    a descendant (``multiple.explained_by``) and not part of a broader kept alarm (``multiple.part_of``);
    its evidence names the ancestors it lifts and the parts it covers. Support is an open series with a raw
    alarm or a p-value under ``policy.stay_p``.
    """
    S.require_columns(scores.columns, WEEK_SCORE_COLUMNS, "volume_findings")
    scored = scores.loc[scores[C.STATE] == C.SCORED].reset_index(drop=True)
    p = pd.Series(alarm_p_values(scored), index=scored.index)
    raw = scored[C.SPIKE] | scored[C.RISE]
    kept = pd.Series(benjamini_hochberg(p.to_numpy(), policy.fdr_q), index=scored.index) & raw
    excess = pd.Series((scored[S.OBSERVED] - scored[S.EXPECTED]).to_numpy(), index=scored[S.SERIES_ID])
    is_open = scored[S.SERIES_ID].isin(open_subjects)
    explainers = set(scored.loc[kept | (is_open & raw), S.SERIES_ID])
    up = parents(catalog)
    expected = pd.Series(scored[S.EXPECTED].to_numpy(), index=scored[S.SERIES_ID])
    why = explained_by(excess, expected, scored.loc[kept, S.SERIES_ID], explainers, up, policy.explain_share)
    speakers = [sid for sid, child in why.items() if not child]
    parts = part_of(excess, expected, speakers, up)
    findings = _rows(scored.loc[kept & scored[S.SERIES_ID].isin(set(speakers) - set(parts))], catalog, p)
    lifts: dict[str, list[str]] = {}
    for parent, child in why.items():
        if child:
            lifts.setdefault(child, []).append(parent)
    members: dict[str, list[str]] = {}
    for part, whole in parts.items():
        members.setdefault(whole, []).append(part)
    for ev, sid in zip(findings[S.EVIDENCE], findings[S.SUBJECT], strict=True):
        ev["also_lifts"] = sorted(lifts.get(sid, []))
        ev["parts"] = sorted(members.get(sid, []))
    stay = is_open & (raw | (p < policy.stay_p)) & ~scored[S.SERIES_ID].isin(findings[S.SUBJECT])
    return findings.reset_index(drop=True), _rows(scored.loc[stay], catalog, p).reset_index(drop=True)


def describe(findings: pd.DataFrame, catalog: pd.DataFrame, freq: str,
             history: Mapping[str, pd.Series] | None = None,
             labels: Mapping[str, tuple[str, str]] | None = None) -> pd.DataFrame:
    """``findings`` with their sentence and artifact label. ``history``: each series' earlier counts (for
    «以来最高»); ``labels``: series -> (artifact label, Chinese note) from ``artifacts.label_artifact``."""
    out = findings.copy()
    names = catalog.set_index(S.SERIES_ID)[LABEL]
    history, labels = history or {}, labels or {}
    texts, tags = [], []
    for row in out.to_dict("records"):
        sid = row[S.SUBJECT]
        label, note = labels.get(sid, ("", ""))
        name = str(names.get(sid, sid))
        ev = row[S.EVIDENCE]
        if row[S.KIND] == SignalKind.SPIKE.value:
            since = sentences.highest_since(history.get(sid, pd.Series(dtype=float)), row[S.OBSERVED], freq)
            beyond = sentences.beyond_forecast(row[S.OBSERVED], ev.get(FORECAST_UPPER))
            text = sentences.spike_sentence(name, row[S.PERIOD], row[S.OBSERVED], row[S.EXPECTED], row[S.UPPER],
                                            freq, "，".join(t for t in (since, beyond) if t), note)
        else:
            text = sentences.rise_sentence(name, row[S.PERIOD], int(ev.get("rise_periods", 0)),
                                           ev.get("rise_observed", np.nan), ev.get("rise_expected", np.nan), freq,
                                           note)
        texts.append(text)
        tags.append(label)
    out[S.SENTENCE] = texts
    out[S.LABEL] = tags
    return out


def shift_findings(recent: pd.DataFrame, catalog: pd.DataFrame, policy: SignalPolicy, freq: str,
                   adapted: Collection[str] = ()) -> tuple[pd.DataFrame, dict[str, tuple[pd.Timestamp, float]]]:
    """Level shifts confirmed this period: (rows with ``SIGNAL_COLUMNS``, series -> (start, ratio)).

    ``recent``: ``series_id, ds, observed, expected, alarm`` of each series' scored periods since its last
    confirmed shift, the current period last. For the ``adapted`` series (a shift confirmed before), a
    level that came back (``confirm_reversal``) is a shift too, adapted to without a signal of its own.
    """
    shifts: dict[str, tuple[pd.Timestamp, float]] = {}
    upward: set[str] = set()
    for sid, part in recent.groupby(S.SERIES_ID, sort=True):
        part = part.sort_values(S.DS)
        got = confirm_shift(part, policy)
        if got is not None:
            upward.add(str(sid))
        elif sid in adapted:
            got = confirm_reversal(part, policy)
        if got is not None:
            shifts[str(sid)] = got
    cat = catalog.set_index(S.SERIES_ID)
    rows = []
    for sid, (start, ratio) in shifts.items():
        if sid not in upward:
            continue
        part = recent.loc[(recent[S.SERIES_ID] == sid) & (recent[S.DS] >= start)]
        level = float(part[S.OBSERVED].mean())
        rows.append({
            S.SIGNAL_KEY: f"{SignalKind.LEVEL_SHIFT.value}:{sid}", S.KIND: SignalKind.LEVEL_SHIFT.value,
            S.SUBJECT: sid, S.CATEGORY_CODE: cat.at[sid, CATEGORY], S.REGION_CODE: cat.at[sid, REGION],
            S.PERIOD: part[S.DS].max(), S.OBSERVED: level, S.EXPECTED: level / ratio, S.UPPER: np.nan,
            S.P_VALUE: np.nan, S.LABEL: "",
            S.SENTENCE: sentences.shift_sentence(str(cat.at[sid, LABEL]), start, ratio, level, freq),
            S.EVIDENCE: {"start": start.date().isoformat(), "ratio": round(ratio, 4), "periods": len(part)},
        })
    return pd.DataFrame(rows, columns=list(S.SIGNAL_COLUMNS)), shifts
