"""One module per use case: load from the store, call the pure core, save / report. The CLI and the jobs
call these.

- ``pipeline.ingest``: ``expand_paths``, ``ingest_file``, ``prepare_store`` (reference data into the store)
- ``pipeline.cases``: ``cases_with_due`` (stored cases, latest or as of a time, with their effective deadline),
  ``add_due``, ``working_dates``
- ``pipeline.stats``: ``month_stats``
- ``pipeline.forecast``: ``run_forecast``, ``build_store_series``, ``forecast_file`` (standalone), ...
- ``pipeline.detect``: ``run_detect``, ``detect_cases``, ``detect_history``, ``detect_file`` (standalone)
- ``pipeline.persons``: ``run_persons``, ``decide_persons``, ``person_profile``, ``resolve_file`` (standalone)
- ``pipeline.ledger``: ``run_ledger``, ``act_on_item``, ``write_lists``, ... (imported on its own)

Functions take an open session and never commit: the caller (CLI command, job) owns the transaction.
Time is an argument (``now`` / ``as_of``); nothing here reads the clock. This package re-exports the
public names, so ``from riskwatch import pipeline; pipeline.run_detect(...)`` reads as before.
"""

from riskwatch.pipeline.cases import add_due, cases_with_due, working_dates
from riskwatch.pipeline.detect import DetectSummary, detect_cases, detect_file, detect_history, run_detect
from riskwatch.pipeline.forecast import (
    ForecastSummary,
    build_store_series,
    calendar_exog,
    data_cutoff,
    engine_options,
    forecast_file,
    read_count_series,
    run_forecast,
    series_from_cases,
)
from riskwatch.pipeline.ingest import (
    FileSummary,
    InputFiles,
    expand_paths,
    file_sha256,
    ingest_file,
    prepare_store,
)
from riskwatch.pipeline.persons import (
    PERSONS_CODE,
    PersonsSummary,
    decide_persons,
    person_profile,
    persons_inputs,
    resolve_file,
    run_persons,
)
from riskwatch.pipeline.stats import month_stats

__all__ = [
    "PERSONS_CODE", "DetectSummary", "FileSummary", "ForecastSummary", "InputFiles", "PersonsSummary",
    "add_due", "build_store_series", "calendar_exog", "cases_with_due", "data_cutoff", "decide_persons", "detect_cases",
    "detect_file", "detect_history", "engine_options", "expand_paths", "file_sha256", "forecast_file", "ingest_file", "month_stats",
    "person_profile", "persons_inputs", "prepare_store", "read_count_series", "resolve_file", "run_detect",
    "run_forecast", "run_persons", "series_from_cases", "working_dates",
]
