"""One function per use case: store -> core -> store / report. The CLI and the jobs call these.

Functions here take an open session and never commit: the caller (CLI command, job) owns the
transaction. Time is an argument (``now`` / ``as_of``); nothing here reads the clock.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd
from sqlalchemy.orm import Session

from riskwatch import calendar as cal
from riskwatch.config import Settings
from riskwatch.deadlines import DUE, DUE_NEEDED, effective_due
from riskwatch.export import write_csv
from riskwatch.indicators import MonthStats, compute_month_stats
from riskwatch.ingest.background import in_background
from riskwatch.ingest.normalize import NormalizedChunk, normalize_chunk
from riskwatch.ingest.readers import read_table
from riskwatch.ingest.refs import Refs, build_refs
from riskwatch.schema import DS, RowProblem, UnreadableFileError
from riskwatch.store import (
    finish_batch,
    load_cases,
    prepare_versions,
    save_cases,
    save_notes,
    save_quarantine,
    start_batch,
    sync_reference,
)

if TYPE_CHECKING:  # the forecast engine pulls in scipy: imported where it is used, not at CLI start-up
    from riskwatch.forecast.engine import EngineOptions
    from riskwatch.forecast.standalone import RegularSeries
    from riskwatch.persons.fellegi_sunter import Model
    from riskwatch.persons.profile import PersonProfile

log = logging.getLogger(__name__)

INPUT_SUFFIXES = (".csv", ".xlsx", ".xlsm", ".xls", ".txt")
BACKGROUND_MIN_BYTES = 8 << 20  # below this, forking a reader process costs more than it saves
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class FileSummary:
    """What ingest did with one file. ``read`` = new + updated + unchanged + older + quarantined."""

    file: str
    source: str = ""
    encoding: str = ""
    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    older: int = 0
    quarantined: int = 0
    blank: int = 0
    notes: Counter[str] = field(default_factory=Counter)
    problems: list[RowProblem] = field(default_factory=list)  # the first quarantined rows, as examples

    MAX_PROBLEMS = 5


SPREADSHEET_SUFFIXES = (".xlsb", ".ods", ".et")  # tables riskwatch cannot read (yet)


@dataclass(frozen=True)
class InputFiles:
    """What a list of paths holds: the files to read, in a stable order, and every file under a folder
    that is not read, with why (none is skipped without a word)."""

    files: list[Path]
    ignored: list[tuple[Path, str]]      # hidden files and Office lock files: said, not an error
    unreadable: list[tuple[Path, str]]   # tables in a format riskwatch does not read: an error
    other: list[tuple[Path, str]]        # anything else found in a folder: said, not an error


def expand_paths(paths: Iterable[Path]) -> InputFiles:
    """Files given, and the input files under directories given, in a stable order; the files under the
    directories that are not read are listed with the reason."""
    out = InputFiles([], [], [], [])
    for p in paths:
        if not p.is_dir():
            out.files.append(p)
            continue
        for f in sorted(f for f in p.rglob("*") if f.is_file()):
            rel = f.relative_to(p)
            if any(part.startswith(".") for part in rel.parts):
                out.ignored.append((f, "hidden file"))
            elif f.name.startswith("~$"):
                out.ignored.append((f, "Office lock file of an open workbook"))
            elif f.suffix.lower() in INPUT_SUFFIXES:
                out.files.append(f)
            elif f.suffix.lower() in SPREADSHEET_SUFFIXES:
                out.unreadable.append((f, f"{f.suffix.lower()} workbooks are not read: save it as .xlsx or CSV"))
            else:
                out.other.append((f, f"not an export ({f.suffix or 'no extension'})"))
    return out


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def prepare_store(session: Session, settings: Settings) -> None:
    """Write the configured regions, categories and staff into the store (idempotent)."""
    sync_reference(session, settings)


def ingest_file(session: Session, settings: Settings, path: Path, now: datetime,
                source: str | None = None, refs: Refs | None = None) -> FileSummary:
    """Read one export, normalize it chunk by chunk and upsert it; every row is stored or quarantined.

    Files of ``BACKGROUND_MIN_BYTES`` or more are read and normalized in a child process while this
    one writes. Raises ``UnreadableFileError`` when the file cannot be read at all.
    """
    mapping = None
    if source is not None:
        if source not in settings.mappings:
            raise UnreadableFileError(str(path), f"unknown source {source!r} (known: {', '.join(settings.mappings)})")
        mapping = settings.mappings[source]
    table = read_table(path, mapping, settings.mappings, settings.ingest.chunk_rows)
    refs = refs or build_refs(settings)
    summary = FileSummary(file=str(path), source=table.mapping.name, encoding=table.encoding)
    batch_id = start_batch(session, table.mapping.name, path.name, file_sha256(path), now, table.encoding)
    latest = pd.Timestamp(now) + pd.Timedelta(days=1)   # a day's grace for the clocks of other systems

    def produce() -> Iterator[tuple[int, NormalizedChunk]]:
        for raw in table.chunks():
            chunk = normalize_chunk(raw, table.mapping, refs, str(path), latest)
            cases, parties = prepare_versions(chunk.cases, chunk.parties)
            yield len(raw), replace(chunk, cases=cases, parties=parties)

    def blank_lines() -> int:
        return table.blank_lines

    if path.stat().st_size >= BACKGROUND_MIN_BYTES:
        chunks = in_background(produce, blank_lines)
    else:
        chunks = _then(produce(), blank_lines)
    while True:
        try:
            rows, chunk = next(chunks)
        except StopIteration as stop:
            summary.blank = stop.value
            break
        counts = save_cases(session, batch_id, chunk.cases, chunk.parties)
        save_quarantine(session, batch_id, path.name, chunk.quarantine)
        save_notes(session, batch_id, chunk.notes)
        summary.read += rows
        summary.new += counts.new
        summary.updated += counts.updated
        summary.unchanged += counts.unchanged
        summary.older += counts.older
        summary.quarantined += len(chunk.quarantine)
        for q in chunk.quarantine.head(FileSummary.MAX_PROBLEMS - len(summary.problems)).itertuples():
            summary.problems.append(RowProblem(path.name, int(q.row_number), str(q.field), str(q.reason)))
        summary.notes.update(_note_kinds(chunk.notes))
    finish_batch(session, batch_id, rows_read=summary.read, rows_new=summary.new,
                 rows_updated=summary.updated, rows_unchanged=summary.unchanged, rows_older=summary.older,
                 rows_quarantined=summary.quarantined, rows_blank=summary.blank, finished_at=now)
    log.info("ingested %s: %s", path.name, summary)
    return summary


def _then(items: Iterator[T], finish: Callable[[], R]) -> Generator[T, None, R]:
    """``items``, then ``finish()`` as the generator's return value (the in-process twin of
    ``in_background``)."""
    yield from items
    return finish()


def _note_kinds(notes: pd.DataFrame) -> Counter[str]:
    if notes.empty:
        return Counter()
    return Counter(notes["field"].astype(str) + ": " + notes["note"].astype(str).str.split(":").str[0])


def working_dates(start: date, end: date) -> list[date]:
    """The official working days between two dates (holidays and adjusted working days applied)."""
    days = (end - start).days + 1
    return [d for d in (start + timedelta(i) for i in range(days)) if cal.is_working_day(d)]


def cases_with_due(session: Session, settings: Settings, end: pd.Timestamp | None = None,
                   columns: Iterable[str] | None = None, start: pd.Timestamp | None = None,
                   open_at: pd.Timestamp | None = None) -> pd.DataFrame:
    """The stored cases (received up to ``end``, and from ``start`` or still open at ``open_at``: see
    ``load_cases``; all columns or ``columns``) with their effective deadline in ``due``."""
    cases = load_cases(session, start=start, end=end, columns=list(columns) if columns is not None else None,
                       open_at=open_at)
    if cases.empty:
        cases[DUE] = pd.Series(dtype="datetime64[ns]")
        return cases
    lo = cases["received_at"].min().date()
    hi = max(cases["received_at"].max().date(), lo) + timedelta(days=60)
    kinds = {name: m.kind for name, m in settings.mappings.items()}
    cases[DUE] = effective_due(cases, settings.deadlines, kinds, working_dates(lo, hi))
    return cases


def month_stats(session: Session, settings: Settings, month: pd.Period, as_of: pd.Timestamp,
                category_level: int = 2) -> MonthStats:
    """Indicators of one month as known at ``as_of`` (see ``indicators.compute_month_stats``)."""
    from riskwatch.indicators import NEEDED
    from riskwatch.store.persons import load_matters

    columns = dict.fromkeys([*(c for c in NEEDED if c != DUE), "source_id", *DUE_NEEDED])
    # what the month's figures can touch: the cases received since the same month a year earlier (同比),
    # and older ones still open when the month began; no texts or addresses
    since = (month - 12).start_time
    cases = cases_with_due(session, settings, end=as_of, columns=list(columns), start=since, open_at=month.start_time)
    matters = load_matters(session)
    if len(matters):
        cases = cases.merge(matters[["source", "source_id", "is_repeat"]], on=["source", "source_id"], how="left")
    return compute_month_stats(cases, month, as_of, category_level)



# --- forecast ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ForecastSummary:
    """What ``run_forecast`` did: the run's key, its history, and the models chosen."""

    run_id: int
    freq: str
    as_of: datetime
    history_start: datetime
    history_end: datetime
    data_end: datetime | None      # set when the store's data stops before as_of: the history stops there
    series: int
    models: dict[str, int]         # chosen model -> number of series
    fallbacks: int                 # series whose chosen model failed and fell back
    seconds: pd.DataFrame          # model, fits, seconds
    history: pd.DataFrame          # the series forecast (series_id, ds, y, y_observed)


def calendar_exog(settings: Settings, ds: pd.DatetimeIndex, freq: str, horizon: int) -> pd.DataFrame:
    """Calendar regressors (``forecast.features``) for ``ds`` and the ``horizon`` periods after it."""
    from riskwatch.forecast.base import PANDAS_FREQ
    from riskwatch.forecast.features import calendar_features

    full = pd.date_range(ds[0], periods=len(ds) + horizon, freq=PANDAS_FREQ[freq])
    years = range(full[0].year - 1, full[-1].year + 2)
    windows = cal.sensitive_windows(settings.periods, years)
    return calendar_features(full, freq, cal.work_calendar(settings.holidays), windows)


def engine_options(settings: Settings, freq: str, horizon: int | None, workers: int | None = None,
                   only: str = "") -> EngineOptions:
    from riskwatch.forecast.engine import EngineOptions

    f = settings.forecast
    default_h = f.horizon_weeks if freq == "W" else f.horizon_months if freq == "M" else 28
    return EngineOptions(horizon=horizon or default_h, origins=f.backtest_origins,
                         min_weekly_mean=f.min_weekly_mean, prophet_min_weekly_mean=f.prophet_min_weekly_mean,
                         ets_min_weekly_mean=f.ets_min_weekly_mean,
                         workers=workers or f.workers, only=only)


def data_cutoff(cases: pd.DataFrame, as_of: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp | None]:
    """``as_of``, or the day after the last receipt when the data stops more than a day before ``as_of``
    (an ingest that stalled must not read as weeks of zero cases)."""
    if cases.empty:
        return as_of, None
    last = pd.Timestamp(cases["received_at"].max())
    if as_of - last > pd.Timedelta(days=1):
        return last.normalize() + pd.Timedelta(days=1), last
    return as_of, None


def build_store_series(session: Session, settings: Settings, as_of: pd.Timestamp, freq: str
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp, pd.Timestamp | None]:
    """Series and catalog (``forecast.series.build_series``) of the stored cases as known at ``as_of``,
    nowcast-corrected; also the effective as-of and the data end (see ``data_cutoff``)."""
    cases = load_cases(session, end=as_of.to_pydatetime(),
                       columns=["source", "received_at", "registered_at", "category_code", "region_code"])
    return series_from_cases(cases, settings, as_of, freq)


def series_from_cases(cases: pd.DataFrame, settings: Settings, as_of: pd.Timestamp, freq: str
                      ) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp, pd.Timestamp | None]:
    """``build_store_series`` on cases already loaded."""
    from riskwatch.forecast.nowcast import nowcast_weights
    from riskwatch.forecast.series import build_series

    cutoff, data_end = data_cutoff(cases, as_of)
    weights, _ = nowcast_weights(cases, cutoff)
    series, catalog = build_series(cases, settings.taxonomy, settings.regions, cutoff, freq, weights=weights,
                                   levels=settings.forecast.levels)
    return series, catalog, cutoff, data_end


def run_forecast(session: Session, settings: Settings, as_of: pd.Timestamp, freq: str, now: datetime,
                 horizon: int | None = None, workers: int | None = None, method: str = "wls",
                 progress: Callable[[int], None] | None = None) -> ForecastSummary:
    """Build every series as of ``as_of``, forecast, reconcile and store the run ``(freq, as_of)``."""
    from riskwatch.forecast.coherence import YHAT_BASE, reconcile_forecasts
    from riskwatch.forecast.engine import forecast_all, weekly_mean
    from riskwatch.store.forecasts import RunInfo, save_forecast_run

    series, catalog, cutoff, data_end = build_store_series(session, settings, as_of, freq)
    if series.empty:
        raise ValueError(f"no cases received before {as_of}: nothing to forecast")
    options = engine_options(settings, freq, horizon, workers)
    ds = pd.DatetimeIndex(sorted(series["ds"].unique()))
    exog = calendar_exog(settings, ds, freq, options.horizon)
    result = forecast_all(series, freq, exog, options, progress)
    values = reconcile_forecasts(result.forecasts, catalog, result.errors, method)
    chosen = values.drop_duplicates("series_id").set_index("series_id")
    sizes = series.groupby("series_id")["y"].apply(lambda y: weekly_mean(y.to_numpy(), freq))
    table = catalog.set_index("series_id").assign(
        model=chosen["model"], note=chosen["note"], weekly_mean=sizes).reset_index()
    run = RunInfo(freq=freq, as_of=as_of.to_pydatetime(), horizon=options.horizon,
                  history_start=ds[0].to_pydatetime(), history_end=ds[-1].to_pydatetime(),
                  reconciliation=method, started_at=now, finished_at=now)
    run_id = save_forecast_run(session, run, table, values.rename(columns={YHAT_BASE: "yhat_base"}),
                               result.scores)
    return ForecastSummary(
        run_id=run_id, freq=freq, as_of=as_of.to_pydatetime(), history_start=ds[0].to_pydatetime(),
        history_end=ds[-1].to_pydatetime(), data_end=data_end.to_pydatetime() if data_end is not None else None,
        series=len(table), models=dict(Counter(table["model"])),
        fallbacks=int(table["note"].str.contains("fell back", regex=False).sum()), seconds=result.seconds,
        history=series)


def read_count_series(in_path: Path, freq: str) -> RegularSeries:
    """A ``date,count`` file as a regular series at ``freq``; a file that cannot be one is refused, named."""
    from riskwatch.forecast.standalone import regularize_counts
    from riskwatch.ingest.count_file import read_count_file

    try:
        return regularize_counts(read_count_file(in_path), freq)
    except ValueError as exc:
        raise UnreadableFileError(str(in_path), str(exc)) from exc


def forecast_file(settings: Settings, in_path: Path, out_path: Path, freq: str, horizon: int
                  ) -> tuple[pd.DataFrame, tuple[str, ...], RegularSeries]:
    """The standalone mode: forecast the ``date,count`` file ``in_path`` and write ``out_path`` (CSV with
    ``date, yhat, yhat_lower_80, yhat_upper_80, yhat_lower_95, yhat_upper_95, model``). Returns the
    output frame, the notes on how the input was read, and the history as read."""
    from riskwatch.forecast.engine import forecast_one

    regular = read_count_series(in_path, freq)
    options = engine_options(settings, freq, horizon, workers=1)
    exog = calendar_exog(settings, regular.ds, freq, options.horizon)
    result = forecast_one("input", regular.y, regular.ds, freq, exog, options)
    out = result.forecast.rename(columns={"ds": "date"})
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    cols = ["date", "yhat", "yhat_lower_80", "yhat_upper_80", "yhat_lower_95", "yhat_upper_95"]
    out[cols[1:]] = out[cols[1:]].round(3)
    out = out[[*cols, "model"]]
    write_csv(out, out_path)
    notes = regular.notes + ((str(result.forecast["note"].iloc[0]),) if result.forecast["note"].iloc[0] else ())
    return out, notes, regular


# --- detect ------------------------------------------------------------------------------------------
def detect_file(in_path: Path, out_path: Path, freq: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The standalone detect mode: score every period of the ``date,count`` file ``in_path`` prospectively
    and write ``out_path`` (CSV ``date, count, expected, upper, score, alarm, detector, state``)."""
    import numpy as np

    from riskwatch.detect import combine as C

    regular = read_count_series(in_path, freq)
    y = np.where(regular.imputed, np.nan, regular.y)
    scores = C.score_periods(y, freq)
    out = pd.DataFrame({
        "date": regular.ds.strftime("%Y-%m-%d"), "count": scores[C.OBSERVED].to_numpy(),
        "expected": scores[C.EXPECTED].round(3).to_numpy(), "upper": scores[C.UPPER].round(3).to_numpy(),
        "score": scores[C.SCORE].round(4).to_numpy(), "alarm": scores[C.ALARM].astype(int).to_numpy(),
        "detector": scores[C.DETECTOR].to_numpy(), "state": scores[C.STATE].to_numpy(),
    })
    write_csv(out, out_path)
    notes = tuple(n.replace("filled by interpolation for fitting", "scored as missing") for n in regular.notes)
    return out, notes


@dataclass(frozen=True)
class DetectSummary:
    """What ``run_detect`` did: the run's key, the period scored, and the signals as they now stand."""

    run_id: int
    freq: str
    as_of: datetime
    period: datetime
    data_end: datetime | None
    series: int
    scored: int
    insufficient: int
    states: pd.DataFrame      # detect.lifecycle.STATE_COLUMNS


DETECT_CASE_COLUMNS = ("source", "source_id", "received_at", "registered_at", "due_at", "closed_at", "urgency",
                       "category_code", "region_code", "level", "satisfaction", "returned_count",
                       "handling_unit", "is_group", "headcount")
ARTIFACT_BASELINE_PERIODS = 8   # periods before the spike a series' usual mix of sources and units is read from


def detect_cases(session: Session, settings: Settings, end: pd.Timestamp) -> pd.DataFrame:
    """The cases a detect run reads (received before ``end``, with their deadline); one load can serve
    the runs of several earlier periods too (``run_detect(cases=...)``)."""
    return cases_with_due(session, settings, end=end.to_pydatetime(), columns=DETECT_CASE_COLUMNS)


def run_detect(session: Session, settings: Settings, as_of: pd.Timestamp, now: datetime, freq: str = "W",
               cases: pd.DataFrame | None = None) -> DetectSummary:
    """Score the last complete period of every series as known at ``as_of``, update the signals and store
    the run ``(freq, as_of)``. A re-run replaces it; a run continues from the run of the previous period
    (its signal states, recent scores and confirmed level shifts). ``cases``: ``detect_cases`` loaded
    for ``as_of`` or a later date (runs over consecutive periods load the store once); by default the
    run loads them."""
    from riskwatch.detect import combine as C
    from riskwatch.detect.case_signals import case_signals
    from riskwatch.detect.lifecycle import SILENCED, silence_reasons
    from riskwatch.detect.replay import RECENT_COLUMNS, step
    from riskwatch.detect.signals import FORECAST_UPPER
    from riskwatch.forecast.base import period_range
    from riskwatch.store import detect as store

    policy = settings.detect
    if cases is None:
        cases = detect_cases(session, settings, as_of)
    else:
        cases = cases.loc[cases["received_at"] < as_of].reset_index(drop=True)
    series, catalog, cutoff, data_end = series_from_cases(cases, settings, as_of, freq)
    if series.empty:
        raise ValueError(f"no cases received before {as_of}: nothing to detect")
    wide = series.pivot(index=DS, columns="series_id", values="y_observed").sort_index()
    ds = wide.index
    period = pd.Timestamp(ds[-1])
    shifts = store.load_shifts(session, freq, period.to_pydatetime())
    confirmed: dict[str, pd.Timestamp] = shifts.groupby("series_id")["confirmed"].max().to_dict()
    by_series: dict[str, list[tuple[int, float]]] = {}
    for sid, start, ratio in zip(shifts["series_id"], shifts["start"], shifts["ratio"], strict=True):
        if start in ds:
            by_series.setdefault(sid, []).append((int(ds.get_loc(start)), ratio))
    scores = C.score_series(wide, freq, len(ds) - 1, by_series, settings.forecast.workers).assign(**{DS: period})
    scores[FORECAST_UPPER] = _forecast_upper(session, freq, period).reindex(scores["series_id"]).to_numpy()
    recent = store.load_recent_scores(session, freq, period.to_pydatetime(), policy.shift_window - 1)
    recent = pd.concat([recent, scores.loc[scores[C.STATE] == C.SCORED, list(RECENT_COLUMNS)]], ignore_index=True)
    after_shift = recent[DS] > pd.to_datetime(recent["series_id"].map(confirmed))
    recent = recent.loc[~recent["series_id"].isin(confirmed) | after_shift]
    _, previous = store.load_states(session, freq, period_before=period.to_pydatetime())
    history = {sid: wide[sid].iloc[:-1] for sid in scores.loc[scores[C.ALARM], "series_id"]}
    labels = {name: m.label or name for name, m in settings.mappings.items()}
    # case and group findings are those of the period scored, judged at its end, whatever the hour of the run
    period_end = period_range(period, 2, freq)[1]
    extra = case_signals(cases, cases[DUE], period_end, freq, settings.taxonomy, settings.regions, labels)
    groups = _group_signals(session, settings, cases, period_end, freq)
    if len(groups):
        extra = pd.concat([extra, groups], ignore_index=True) if len(extra) else groups
    labeler = _artifact_labeler(cases, catalog, settings, ds, freq)
    result = step(scores, recent, catalog, previous, period, policy, freq, history, labeler, extra, confirmed)
    states = result.states
    scores["shift_start"] = scores["series_id"].map({k: v[0] for k, v in result.shifts.items()})
    scores["shift_ratio"] = scores["series_id"].map({k: v[1] for k, v in result.shifts.items()})
    states[SILENCED] = silence_reasons(states["signal_key"], store.load_silences(session), cutoff)
    run = store.DetectRunInfo(freq=freq, as_of=as_of.to_pydatetime(), period=period.to_pydatetime(),
                              started_at=now, finished_at=now)
    run_id = store.save_detect_run(session, run, scores, states)
    return DetectSummary(run_id=run_id, freq=freq, as_of=as_of.to_pydatetime(), period=period.to_pydatetime(),
                         data_end=data_end.to_pydatetime() if data_end is not None else None,
                         series=len(scores), scored=int((scores[C.STATE] == C.SCORED).sum()),
                         insufficient=int((scores[C.STATE] == C.INSUFFICIENT).sum()), states=states)


def _group_signals(session: Session, settings: Settings, cases: pd.DataFrame, cutoff: pd.Timestamp, freq: str
                   ) -> pd.DataFrame:
    """Findings on the groups the last persons run found (grown, spread to a new township, escalated)."""
    from riskwatch.persons.group_signals import GroupSignalOptions, group_findings
    from riskwatch.store.persons import load_groups

    groups, members, group_cases = load_groups(session)
    p = settings.persons
    options = GroupSignalOptions(growth_weeks=p.group_growth_weeks, growth_min_new=p.group_growth_min_new,
                                 growth_min_share=p.group_growth_min_share,
                                 escalation_min_level=p.group_escalation_level)
    return group_findings(groups, members, group_cases, cases, cutoff, freq, settings.regions, settings.taxonomy,
                          options)


def _forecast_upper(session: Session, freq: str, period: pd.Timestamp) -> pd.Series:
    """The 95% upper bound of ``period`` in the latest forecast run made before the period began
    (series_id -> bound; empty when there is none)."""
    from riskwatch.store.forecasts import load_forecast_run_before

    got = load_forecast_run_before(session, freq, period.to_pydatetime())
    if got is None:
        return pd.Series(dtype=float)
    values = got.loc[got["ds"] == period]
    return values.set_index("series_id")["yhat_upper_95"]


def _artifact_labeler(cases: pd.DataFrame, catalog: pd.DataFrame, settings: Settings, ds: pd.DatetimeIndex,
                      freq: str) -> Callable[[pd.DataFrame], dict[str, tuple[str, str]]]:
    """Labels the findings whose cases come from one source, one day's batch entry or one unit."""
    from riskwatch.detect.artifacts import label_artifact
    from riskwatch.forecast.base import period_start
    from riskwatch.forecast.series import CATEGORY, CATEGORY_LEVEL, REGION, REGION_LEVEL, cell_keys

    n = ARTIFACT_BASELINE_PERIODS
    first = ds[max(len(ds) - 1 - n, 0)]
    recent = cases.loc[cases["received_at"] >= first].copy()
    recent["_period"] = period_start(recent["received_at"], freq)
    keys = cell_keys(recent, settings.taxonomy, settings.regions)
    info = catalog.set_index("series_id")
    sources = {name: m.label or name for name, m in settings.mappings.items()}

    def label(findings: pd.DataFrame) -> dict[str, tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}
        for sid, expected in zip(findings["subject"], findings["expected"], strict=True):
            row = info.loc[sid]
            mine = (keys.category[row[CATEGORY_LEVEL]] == row[CATEGORY]) & (keys.region[row[REGION_LEVEL]] == row[REGION])
            part = recent.loc[mine]
            now = part["_period"] == ds[-1]
            got = label_artifact(part.loc[now], part.loc[~now & (part["_period"] < ds[-1])], float(expected), n,
                                 source_labels=sources)
            if got.label:
                out[sid] = (got.label, got.note)
        return out

    return label


# --- persons ---------------------------------------------------------------------------------------
PERSON_CASE_COLUMNS = ("source", "source_id", "channel", "received_at", "closed_at", "category_code", "region_code",
                       "level", "is_group", "headcount", "status", "content", "summary")


@dataclass(frozen=True)
class PersonsSummary:
    """What ``run_persons`` did, and what the demo and the CLI show of it (all personal data masked).

    Mode ``unchanged``: nothing the result depends on changed since run ``run_id`` (finished at
    ``unchanged_since``), so nothing was done; the counts are that run's, the three frames empty."""

    run_id: int
    mode: str                 # "full" | "incremental" | "unchanged"
    records: int              # recorded parties in the store
    resolved: int             # records (re)resolved by this run: all in a full run, the new and changed ones else
    removed: int              # records no longer in the store, dropped from the register
    persons: int
    merged: int               # known persons merged into another by this run
    pairs: int
    repeats: int              # cases that repeat an earlier one of the same person and matter
    groups: int
    top_repeaters: pd.DataFrame   # person_id, name (masked), cases, repeats, matters, last_received
    largest_groups: pd.DataFrame  # groups.GROUP columns of the largest groups
    repeat_share: pd.DataFrame    # 重复信访占比 per month and district ("" = the city): period, region_code,
                                  # cases, repeats, share
    unchanged_since: datetime | None = None   # mode "unchanged": when the run that holds the result finished


def run_persons(session: Session, settings: Settings, now: datetime, full: bool = False) -> PersonsSummary:
    """Resolve every stored party into a person, then derive matters (repeat petitions) and groups.

    Incremental by default: records that are new or changed since the last run are matched against the
    persons already known with the stored model; ``full`` (or no earlier run) re-fits the model and
    re-resolves everything, keeping person ids where the records agree (``registry.assign_person_ids``).
    Analysts' merges and splits apply in both modes. Matters and groups are derived again in full and
    replace the stored ones.

    Nothing new: when every input of the last run is as it was (``persons_inputs``: the cases and their
    parties, decisions, register, settings, schema and code) the result would be the same, so the run
    stops there, writes nothing and returns mode ``unchanged``; ``full`` always runs.
    """
    from riskwatch.store import persons as store

    inputs = persons_inputs(session, settings)   # read first: a change after this makes the next run work
    last = store.load_latest_run(session, with_model=False)
    if not full and last is not None:
        changed = sorted(k for k in {*inputs, *last["inputs"]} if inputs.get(k) != last["inputs"].get(k))
        if not changed:
            repeats, groups = store.count_derived(session)
            return _unchanged_summary(last, repeats, groups)
        log.info("persons: changed since run %s: %s", last["id"], ", ".join(changed))
    # the core's imports (pypinyin's tables, networkx, scipy) only once there is work to do
    from riskwatch.persons import features as F
    from riskwatch.persons import linkage as L
    from riskwatch.persons import registry as R
    from riskwatch.persons.profile import display_name

    last = store.load_latest_run(session)
    opts = L.LinkageOptions(threshold=settings.persons.match_threshold)
    records = store.load_party_records(session)
    records[R.RECORD_HASH] = R.record_hash(records)
    stored = store.load_person_records(session)
    constraints = R.constraints_from(store.load_decisions(session))
    todo, gone = R.plan_records(records, stored)
    feats = F.party_features(records)
    known_model = _stored_model(last) if not full and len(stored) else None
    incremental = known_model is not None
    run_id = store.start_persons_run(session, now)
    merged: dict[str, str] = {}
    if known_model is None:
        res = L.resolve(feats, opts, constraints)
        previous = stored.set_index("record_id")["person_id"] if len(stored) else pd.Series(dtype=object)
        rows = records.assign(person_id=R.assign_person_ids(records["record_id"], res.labels, previous),
                              confidence=res.confidence, run_id=run_id)
        store.save_person_records(session, rows, replace_all=True)
        register = rows
        model, pairs, resolved = res.model.to_dict(), res.pairs, len(records)
    else:
        model, pairs, resolved = known_model.to_dict(), 0, int(todo.sum())
        if resolved:
            known = feats.loc[~todo.to_numpy()].assign(
                person_id=records.loc[~todo.to_numpy(), "record_id"].map(stored.set_index("record_id")["person_id"])
                .to_numpy())
            res = L.resolve_incremental(known, feats.loc[todo.to_numpy()], known_model, opts, constraints)
            existing = set(known["person_id"])
            fresh = sorted({lab for lab in res.labels if lab not in existing})
            new_ids = dict(zip(fresh, R.assign_person_ids(fresh, fresh, pd.Series(dtype=object), existing),
                               strict=True))
            rows = records.loc[todo.to_numpy()].assign(
                person_id=[new_ids.get(lab, lab) for lab in res.labels], confidence=res.confidence, run_id=run_id)
            merged, pairs = dict(res.merged), res.pairs
            store.relabel_persons(session, merged)
        else:
            rows = records.iloc[:0].assign(person_id=[], confidence=[], run_id=[])
        store.save_person_records(session, rows, remove=gone)
        kept = stored.loc[~stored["record_id"].isin({*gone, *rows["record_id"]})]
        register = pd.concat([kept.assign(person_id=kept["person_id"].replace(merged)), rows], ignore_index=True)
    repeats, counts, groups, share = _derive_matters_and_groups(session, settings, feats, register)
    info = store.PersonsRunInfo(mode="incremental" if incremental else "full", records=len(records),
                                new_records=resolved, persons=int(register["person_id"].nunique()), pairs=pairs,
                                merged=len(merged), model=model, started_at=now, finished_at=now,
                                inputs={**inputs, **store.load_persons_inputs(session, ("register",))})
    store.finish_persons_run(session, run_id, info)
    names = records[["record_id", "name"]].merge(register[["record_id", "person_id"]], on="record_id")
    top = counts.head(10).copy()
    top.insert(1, "name", [display_name(names.loc[names["person_id"] == p, "name"]) for p in top["person_id"]])
    return PersonsSummary(run_id=run_id, mode=info.mode, records=len(records), resolved=resolved, removed=len(gone),
                          persons=info.persons, merged=len(merged), pairs=pairs, repeats=int(repeats["is_repeat"].sum()),
                          groups=len(groups), top_repeaters=top, largest_groups=groups.head(10), repeat_share=share)


PERSONS_CODE = ("persons", "store/persons.py", "pipeline/__init__.py")  # the code a persons run's result depends on


def persons_inputs(session: Session, settings: Settings) -> dict[str, str]:
    """A digest of each input a persons run's result depends on: the store's (``store.persons.
    load_persons_inputs``: cases with their parties, decisions, register, schema), the settings it reads
    (``[persons]``, ``[group]``) and the code that derives it (``PERSONS_CODE``, and the version)."""
    from riskwatch import __version__
    from riskwatch.store import persons as store

    root = Path(__file__).parent.parent  # riskwatch/
    files = sorted(f for part in PERSONS_CODE for f in ((root / part).glob("*.py") if (root / part).is_dir()
                                                        else [root / part]))
    code = hashlib.blake2b(digest_size=16)
    for f in files:
        code.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    wanted = json.dumps({"persons": asdict(settings.persons), "group": asdict(settings.group)}, sort_keys=True,
                        default=str)
    return {**store.load_persons_inputs(session),
            "settings": hashlib.blake2b(wanted.encode(), digest_size=16).hexdigest(),
            "code": f"{__version__}:{code.hexdigest()}"}


def _unchanged_summary(last: dict[str, Any], repeats: int, groups: int) -> PersonsSummary:
    """The summary of a run that had nothing to do: the counts of the last run, which holds the result."""
    return PersonsSummary(run_id=int(last["id"]), mode="unchanged", records=int(last["records"]), resolved=0,
                          removed=0, persons=int(last["persons"]), merged=0, pairs=0, repeats=repeats,
                          groups=groups, top_repeaters=pd.DataFrame(), largest_groups=pd.DataFrame(),
                          repeat_share=pd.DataFrame(), unchanged_since=last["finished_at"])


def resolve_file(in_path: Path, out_path: Path, with_confidence: bool = False) -> tuple[int, int]:
    """The standalone mode: resolve the parties of ``in_path`` (``ingest.party_file``) into persons and
    write ``record_id,person_id`` (and ``confidence``) to ``out_path`` in input order; the person id is the
    smallest record id of the person, so it does not depend on row order. Returns (records, persons)."""
    from riskwatch.ingest.party_file import read_party_file
    from riskwatch.persons import features as F
    from riskwatch.persons import linkage as L

    parties = read_party_file(in_path)
    if parties.empty:
        raise UnreadableFileError(str(in_path), "no records below the header: nothing to resolve")
    res = L.resolve(F.party_features(parties))
    out = pd.DataFrame({"record_id": parties["record_id"], "person_id": res.labels})
    if with_confidence:
        out["confidence"] = pd.Series(res.confidence).round(4)
    write_csv(out, out_path)
    return len(out), int(out["person_id"].nunique())


def decide_persons(session: Session, kind: str, person: str, other: str | None, records: list[str] | None,
                   reason: str, created_by: str, now: datetime) -> str:
    """An analyst's decision, recorded and applied to the register at once: ``merge`` joins person
    ``other`` into ``person``; ``split`` takes ``records`` out of ``person`` as a person of their own. Later
    runs keep it (``registry.constraints_from``). Returns a one-line account."""
    from riskwatch.persons import registry as R
    from riskwatch.store import persons as store

    register = store.load_person_records(session)
    if register.empty:
        raise ValueError("no persons in the store yet: run `riskwatch persons` first")
    by_person = register.groupby("person_id")["record_id"].apply(list)
    if person not in by_person.index:
        raise ValueError(f"no person {person}")
    mine = by_person[person]
    if kind == "merge":
        if other is None or other not in by_person.index:
            raise ValueError(f"no person {other}")
        if other == person:
            raise ValueError("a person cannot be merged with itself")
        did = store.add_decision(session, "merge", mine, by_person[other], reason, created_by, now)
        store.relabel_persons(session, {other: person})
        return f"decision {did}: {other} ({len(by_person[other])} records) merged into {person}"
    chosen = sorted(set(records or ()))
    foreign = [r for r in chosen if r not in set(mine)]
    if foreign:
        raise ValueError(f"record(s) {', '.join(foreign[:5])} are not records of {person}")
    rest = sorted(set(mine) - set(chosen))
    if not chosen or not rest:
        raise ValueError(f"a split needs some but not all of the {len(mine)} records of {person}")
    did = store.add_decision(session, "split", chosen, rest, reason, created_by, now)
    new_id = str(R.assign_person_ids(chosen[:1], chosen[:1], pd.Series(dtype=object), by_person.index)[0])
    store.move_records(session, chosen, new_id)
    return f"decision {did}: {len(chosen)} records of {person} are now person {new_id}"


def person_profile(session: Session, settings: Settings, person_id: str, as_of: pd.Timestamp) -> PersonProfile:
    """The profile of one person (``persons.profile.PersonProfile``), personal data masked."""
    from riskwatch.persons.profile import person_profile as build
    from riskwatch.store import persons as store

    mine = store.load_person_records(session, person_id)
    if mine.empty:
        raise ValueError(f"no person {person_id}")
    parties = store.load_party_records(session, mine["source_id"].tolist())
    records = mine.merge(parties.drop(columns=["source", "source_id", "seq"]), on="record_id")
    keys = mine[["source", "source_id"]].drop_duplicates()
    ids = keys["source_id"].tolist()      # read this person's cases and matters only
    cases = load_cases(session, columns=PERSON_CASE_COLUMNS, source_ids=ids).merge(keys, on=["source", "source_id"])
    matters = store.load_matters(session, ids)
    groups, members, _ = store.load_groups(session)
    years = range(int(cases["received_at"].min().year) if len(cases) else as_of.year, as_of.year + 1)
    windows = cal.sensitive_windows(settings.periods, years)
    return build(person_id, records, cases, matters, members, groups, windows, as_of)


def _stored_model(last: dict[str, Any] | None) -> Model | None:
    """The last run's model, when there is one that fits the comparison fields of this version (a model
    stored before a field was added cannot score: the run is then a full one, which fits a new model)."""
    from riskwatch.persons.fellegi_sunter import Model

    if last is None or not last["model"]:
        return None
    try:
        return Model.from_dict(dict(last["model"]))
    except (ValueError, TypeError, KeyError):
        return None


def _derive_matters_and_groups(session: Session, settings: Settings, feats: pd.DataFrame, register: pd.DataFrame
                               ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Matters and repeats of every case, then groups; stored (replacing the last run's). Returns
    (matters, per-person repeat counts, groups, the monthly repeat share per district and city)."""
    from riskwatch.persons import groups as G
    from riskwatch.persons import repeats as RP
    from riskwatch.store import persons as store

    cases = load_cases(session, columns=PERSON_CASE_COLUMNS)
    case_persons = register[["source", "source_id", "person_id"]].drop_duplicates()
    options = RP.RepeatOptions(text_threshold=settings.persons.repeat_text_similarity)
    matters = RP.find_matters(cases, case_persons, options)
    store.save_matters(session, matters)
    per_person, _ = RP.repeat_counts(matters.merge(cases, on=["source", "source_id"]), case_persons)
    keys = feats[["record_id", "phone_key", "address_key"]].merge(register[["record_id", "person_id"]], on="record_id")
    graph = G.build_graph(cases.merge(matters[["source", "source_id", "matter_id"]], on=["source", "source_id"]),
                          case_persons, keys[["person_id", "phone_key", "address_key"]],
                          joint_min_persons=settings.group.min_headcount)
    groups, members, group_cases = G.find_groups(graph, cases, case_persons, settings.persons.group_min_size,
                                                 min_households=settings.persons.group_min_households)
    _, previous, _ = store.load_groups(session)
    groups, members, group_cases = G.carry_group_ids(groups, members, group_cases, previous)
    store.save_groups(session, groups, members, group_cases)
    return matters, per_person, groups, RP.repeat_share(cases, matters, "M", 6)
