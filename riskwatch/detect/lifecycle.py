"""Signals over time: opened, ongoing, closed; level shifts; silences (pure).

A run (one as-of) turns the period's findings into signal states, given the states of the run before:

- a finding with no open signal of its *thread* opens one (``opened``). Volume findings of a series share
  one thread (a spike followed by a sustained rise is one event); a case finding is its own thread;
- an open signal with a finding, or with weaker *support* this period (an alarm the false-discovery control
  did not keep, or a small p-value), stays open (``ongoing``) and shows the newest numbers;
- an open signal without either counts quiet periods and closes after ``close_after`` of them: the
  hysteresis that keeps a signal from flapping open and shut. Case findings close as soon as their fact
  no longer holds (the case was closed, the deadline met); a level-shift signal stays open for
  ``shift_window`` periods, so that the same change confirmed in related series joins it;
- a closed signal is not carried to the next run.

A lasting level shift must not alarm for months: when a series has stayed above its expectation for most
of ``shift_window`` periods (``confirm_shift``), the shift is confirmed, its volume signal is closed and one
``level_shift`` signal says what happened; the detectors then score the series against its new level
(``combine.adapt_to_shifts``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.config import DetectSettings
from riskwatch.schema import (  # the state frame's columns, named once in schema
    LAST_SEEN as LAST_SEEN,
)
from riskwatch.schema import (
    OPENED as OPENED,
)
from riskwatch.schema import (
    QUIET as QUIET,
)
from riskwatch.schema import (
    SILENCED as SILENCED,
)
from riskwatch.schema import (
    STATE_COLUMNS as STATE_COLUMNS,
)
from riskwatch.schema import (
    STATUS as STATUS,  # opened | ongoing | closed
)
from riskwatch.schema import (
    SignalKind,
)

OPEN, ONGOING, CLOSED = "opened", "ongoing", "closed"
VOLUME_KINDS: frozenset[str] = frozenset({SignalKind.SPIKE.value, SignalKind.RISE.value})


SignalPolicy = DetectSettings   # how alarms become signals: ``[detect]`` of settings.toml, validated there


def findings_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Finding rows (dicts with ``SIGNAL_COLUMNS``; other keys dropped) as the frame ``advance`` reads:
    ``period`` datetime64[ns], the figures float, ``evidence`` dicts."""
    out = pd.DataFrame(rows, columns=list(S.SIGNAL_COLUMNS))
    out[S.PERIOD] = pd.to_datetime(out[S.PERIOD]).astype("datetime64[ns]")
    for col in (S.OBSERVED, S.EXPECTED, S.UPPER, S.P_VALUE):
        out[col] = out[col].astype(float)
    out[S.EVIDENCE] = out[S.EVIDENCE].astype(object)
    return out.reset_index(drop=True)


def empty_states() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in STATE_COLUMNS})


def thread(frame: pd.DataFrame) -> pd.Series:
    """What makes two findings the same event: the series for volume signals, the key otherwise."""
    volume = frame[S.KIND].isin(VOLUME_KINDS)
    return pd.Series(np.where(volume, "volume:" + frame[S.SUBJECT].astype(str), frame[S.SIGNAL_KEY]),
                     index=frame.index, dtype=object)


def advance(previous: pd.DataFrame, findings: pd.DataFrame, support: pd.DataFrame, period: pd.Timestamp,
            policy: SignalPolicy, close: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The states of this run (``STATE_COLUMNS``, sorted by key).

    ``previous``: the states of the run before (closed ones are ignored); ``findings`` and ``support``:
    rows with ``SIGNAL_COLUMNS`` (support only continues open signals); ``close``: threads to close now
    (thread -> why, e.g. a confirmed level shift), written into the evidence.
    """
    close = dict(close or {})
    prev = previous.loc[previous[STATUS].isin([OPEN, ONGOING])] if len(previous) else empty_states()
    found = findings.set_axis(thread(findings)) if len(findings) else findings
    held = support.set_axis(thread(support)) if len(support) else support
    rows: list[dict[str, object]] = []
    open_threads = set()
    for t, old in zip(thread(prev), prev.to_dict("records"), strict=True) if len(prev) else ():
        open_threads.add(t)
        row = dict(old)
        fresh = found.loc[t] if t in found.index else held.loc[t] if t in held.index else None
        if t in close:
            row.update(status=CLOSED, evidence={**_dict(row[S.EVIDENCE]), "closed_because": close[t]})
        elif fresh is not None:
            row.update({c: fresh[c] for c in S.SIGNAL_COLUMNS if c not in (S.SIGNAL_KEY, S.KIND)})
            row.update(status=ONGOING, last_seen=period, quiet=0)
        else:
            quiet = int(row[QUIET]) + 1
            limit = (policy.close_after if row[S.KIND] in VOLUME_KINDS
                     else policy.shift_window if row[S.KIND] == SignalKind.LEVEL_SHIFT.value else 1)
            row.update(status=CLOSED if quiet >= limit else ONGOING, quiet=quiet)
        rows.append(row)
    for t, new in zip(found.index, findings.to_dict("records"), strict=True) if len(findings) else ():
        if t not in open_threads:
            rows.append({**new, STATUS: OPEN, OPENED: period, LAST_SEEN: period, QUIET: 0, SILENCED: ""})
            open_threads.add(t)
    if not rows:
        return empty_states()
    return pd.DataFrame(rows, columns=list(STATE_COLUMNS)).sort_values(S.SIGNAL_KEY, ignore_index=True)


def _dict(value: object) -> dict[str, object]:
    return dict(value) if isinstance(value, Mapping) else {}


def confirm_shift(recent: pd.DataFrame, policy: SignalPolicy) -> tuple[pd.Timestamp, float] | None:
    """A confirmed upward level shift in the last ``shift_window`` scored periods of one series:
    (first period of the new level, observed / expected since then), else None.

    ``recent``: the series' scored periods since its last confirmed shift, sorted, with ``ds, observed,
    expected, alarm``. A shift is confirmed only in a period that alarms.
    """
    tail = recent.dropna(subset=[S.OBSERVED, S.EXPECTED]).tail(policy.shift_window)
    if len(tail) < policy.shift_window or not bool(tail["alarm"].iloc[-1]):
        return None
    above = (tail[S.OBSERVED] > tail[S.EXPECTED]).to_numpy()
    if above.sum() < policy.shift_above or int(tail["alarm"].sum()) < policy.shift_alarms:
        return None
    start = int(np.argmax(above))
    since = tail.iloc[start:]
    ratio = float(since[S.OBSERVED].sum() / max(since[S.EXPECTED].sum(), 1e-9))
    if ratio < policy.shift_ratio:
        return None
    return pd.Timestamp(since["ds"].iloc[0]), ratio


def confirm_reversal(recent: pd.DataFrame, policy: SignalPolicy) -> tuple[pd.Timestamp, float] | None:
    """The mirror of ``confirm_shift`` for a series already adapted to a shift: ``shift_above`` of the last
    ``shift_window`` periods below expectation and observed / expected at most ``1 / shift_ratio`` since
    then. A level that came back (a shift that was a long season, or a campaign that ended) must not leave
    the baseline inflated, where it would hide the next outbreak."""
    tail = recent.dropna(subset=[S.OBSERVED, S.EXPECTED]).tail(policy.shift_window)
    if len(tail) < policy.shift_window:
        return None
    below = (tail[S.OBSERVED] < tail[S.EXPECTED]).to_numpy()
    if below.sum() < policy.shift_above:
        return None
    since = tail.iloc[int(np.argmax(below)):]
    ratio = float(since[S.OBSERVED].sum() / max(since[S.EXPECTED].sum(), 1e-9))
    if ratio > 1 / policy.shift_ratio:
        return None
    return pd.Timestamp(since["ds"].iloc[0]), max(ratio, 1e-3)


def silence_reasons(keys: pd.Series, silences: pd.DataFrame, at: pd.Timestamp) -> pd.Series:
    """For each signal key, the reason of the first silence active at ``at`` that matches it, else "".

    ``silences``: ``pattern`` (a signal key, or a shell pattern such as ``spike:W:04*``), ``reason``,
    ``starts_at``, ``expires_at``; a silence is active from its start up to (not including) its expiry.
    """
    out = pd.Series("", index=keys.index, dtype=object)
    if silences.empty or keys.empty:
        return out
    active = silences.loc[(pd.to_datetime(silences["starts_at"]) <= at)
                          & (pd.to_datetime(silences["expires_at"]) > at)]
    for pattern, reason in zip(active["pattern"], active["reason"], strict=True):
        hit = keys.map(lambda k, p=pattern: fnmatch.fnmatchcase(str(k), p)) & (out == "")
        out[hit] = reason
    return out
