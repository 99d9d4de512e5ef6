"""The store: SQLAlchemy models, engines and sessions, ``load_*`` / ``save_*`` over frames, migrations.

Functions take a ``Session`` and never commit; the caller owns the transaction.
"""

from riskwatch.store.cases import (
    BatchCounts,
    SaveCounts,
    dialect_insert,
    finish_batch,
    save_cases,
    save_notes,
    save_quarantine,
    start_batch,
)
from riskwatch.store.engine import make_engine, make_session, normalize_url, upgrade_database
from riskwatch.store.history import CaseHistory
from riskwatch.store.queries import (
    count_rows,
    dump_database,
    load_case_history,
    load_cases,
    load_cases_as_of,
    load_events,
    load_parties,
    load_quarantine,
)
from riskwatch.store.reference import sync_reference
from riskwatch.store.versions import add_version_columns, prepare_versions

__all__ = [
    "BatchCounts",
    "CaseHistory",
    "SaveCounts",
    "add_version_columns",
    "count_rows",
    "dialect_insert",
    "dump_database",
    "finish_batch",
    "load_case_history",
    "load_cases",
    "load_cases_as_of",
    "load_events",
    "load_parties",
    "load_quarantine",
    "make_engine",
    "make_session",
    "normalize_url",
    "prepare_versions",
    "save_cases",
    "save_notes",
    "save_quarantine",
    "start_batch",
    "sync_reference",
    "upgrade_database",
]
