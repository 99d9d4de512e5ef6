"""SQLAlchemy 2 typed declarative models: one schema for SQLite and PostgreSQL.

Times are naive ``DateTime`` columns holding wall-clock time in Asia/Shanghai. Column names of
``cases`` and ``parties`` are the frame column names of ``riskwatch.schema``; the migrations in
``store/migrations`` create exactly this schema (a test compares them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# --- shared column types ------------------------------------------------------------------------
intpk = Annotated[int, mapped_column(Integer, primary_key=True, autoincrement=True)]
code = Annotated[str, mapped_column(String(64))]
code_opt = Annotated[str | None, mapped_column(String(64))]
label = Annotated[str | None, mapped_column(String(255))]
text_opt = Annotated[str | None, mapped_column(Text)]
ts = Annotated[datetime, mapped_column(DateTime(timezone=False))]
ts_opt = Annotated[datetime | None, mapped_column(DateTime(timezone=False))]
count = Annotated[int, mapped_column(Integer, default=0, server_default="0")]
flag_opt = Annotated[bool | None, mapped_column(Boolean)]
batch_fk = Annotated[int, mapped_column(ForeignKey("ingest_batches.id"))]
batch_fk_opt = Annotated[int | None, mapped_column(ForeignKey("ingest_batches.id"))]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# --- reference data (from config/) --------------------------------------------------------------
class Region(Base):
    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[code_opt]


class Category(Base):
    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    parent_code: Mapped[code_opt]
    aliases: Mapped[text_opt]  # JSON list of strings


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    title: Mapped[label]
    role: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[code]
    phone: Mapped[label]
    email: Mapped[label]
    cap: Mapped[int] = mapped_column(Integer)


# --- ingest bookkeeping ---------------------------------------------------------------------------
class IngestBatch(Base):
    __tablename__ = "ingest_batches"
    __table_args__ = (UniqueConstraint("source", "file_sha256"),)

    id: Mapped[intpk]
    source: Mapped[code]
    file_name: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[ts]
    finished_at: Mapped[ts_opt]
    rows_read: Mapped[count]
    rows_new: Mapped[count]
    rows_updated: Mapped[count]
    rows_unchanged: Mapped[count]
    rows_older: Mapped[count]
    rows_quarantined: Mapped[count]
    rows_blank: Mapped[count]
    encoding: Mapped[code_opt]


class Quarantine(Base):
    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("batch_id", "row_number", "field"),)

    id: Mapped[intpk]
    batch_id: Mapped[batch_fk]
    file_name: Mapped[text_opt]
    row_number: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[text_opt]  # JSON object of the whole input row, header -> text


class IngestNote(Base):
    __tablename__ = "ingest_notes"
    __table_args__ = (UniqueConstraint("batch_id", "row_number", "field"),)

    id: Mapped[intpk]
    batch_id: Mapped[batch_fk]
    row_number: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(Text)


# --- cases ----------------------------------------------------------------------------------------
class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("source", "source_id"),
        Index(None, "received_at"),
    )

    id: Mapped[intpk]
    source: Mapped[code]
    source_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[code_opt]
    received_at: Mapped[ts]
    registered_at: Mapped[ts_opt]
    due_at: Mapped[ts_opt]
    closed_at: Mapped[ts_opt]
    updated_at: Mapped[ts_opt]
    category_code: Mapped[code_opt]
    category_raw: Mapped[text_opt]
    region_code: Mapped[code_opt]
    region_raw: Mapped[text_opt]
    level: Mapped[code_opt]
    is_group: Mapped[bool] = mapped_column(Boolean)
    headcount: Mapped[int] = mapped_column(Integer)
    handling_unit: Mapped[text_opt]
    status: Mapped[code_opt]
    resolved: Mapped[flag_opt]
    satisfaction: Mapped[code_opt]
    returned_count: Mapped[int] = mapped_column(Integer)
    urgency: Mapped[code_opt]
    content: Mapped[text_opt]
    summary: Mapped[text_opt]
    version_at: Mapped[ts]
    version_hash: Mapped[str] = mapped_column(String(32))
    first_batch_id: Mapped[batch_fk_opt]
    last_batch_id: Mapped[batch_fk_opt]


class Party(Base):
    __tablename__ = "parties"
    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        Index(None, "id_number"),
        Index(None, "phone"),
    )

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[code_opt]
    name: Mapped[text_opt]
    id_number: Mapped[code_opt]
    id_valid: Mapped[flag_opt]
    phone: Mapped[code_opt]
    phone_valid: Mapped[flag_opt]
    address: Mapped[text_opt]
    region_code: Mapped[code_opt]
    account_id: Mapped[label]


class CaseEvent(Base):
    """Append-only history of a case: one ``version`` event per distinct version seen."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "version_hash"),)

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[ts]
    kind: Mapped[str] = mapped_column(String(32))
    version_hash: Mapped[str] = mapped_column(String(32))
    snapshot: Mapped[text_opt]  # JSON of the tracked fields (see versions.TRACKED_FIELDS)
    batch_id: Mapped[batch_fk_opt]


# --- forecasts -------------------------------------------------------------------------------------
real = Annotated[float, mapped_column(Float)]
real_opt = Annotated[float | None, mapped_column(Float)]
run_fk = Annotated[int, mapped_column(ForeignKey("forecast_runs.id", ondelete="CASCADE"))]


class ForecastRun(Base):
    """One ``riskwatch forecast`` run, keyed by what it covers: (freq, as_of). A re-run replaces its rows."""

    __tablename__ = "forecast_runs"
    __table_args__ = (UniqueConstraint("freq", "as_of"),)

    id: Mapped[intpk]
    freq: Mapped[str] = mapped_column(String(1))
    as_of: Mapped[ts]
    horizon: Mapped[int] = mapped_column(Integer)
    history_start: Mapped[ts]
    history_end: Mapped[ts]  # start of the last period of history
    reconciliation: Mapped[str] = mapped_column(String(32))
    series_count: Mapped[count]
    started_at: Mapped[ts]
    finished_at: Mapped[ts_opt]


class ForecastSeries(Base):
    """A series of a run: what it counts, the model chosen and why."""

    __tablename__ = "forecast_series"
    __table_args__ = (UniqueConstraint("run_id", "series_id"),)

    id: Mapped[intpk]
    run_id: Mapped[run_fk]
    series_id: Mapped[str] = mapped_column(String(128))
    category: Mapped[code]
    region: Mapped[code]
    category_level: Mapped[str] = mapped_column(String(16))
    region_level: Mapped[str] = mapped_column(String(16))
    parent_category: Mapped[str] = mapped_column(String(64))  # "" at the top of the tree
    parent_region: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(255))
    model: Mapped[str] = mapped_column(String(32))
    note: Mapped[text_opt]
    weekly_mean: Mapped[real]


class ForecastValue(Base):
    """One forecast period of a series: reconciled median and 80% / 95% bounds, and the base median."""

    __tablename__ = "forecasts"
    __table_args__ = (UniqueConstraint("run_id", "series_id", "ds"),)

    id: Mapped[intpk]
    run_id: Mapped[run_fk]
    series_id: Mapped[str] = mapped_column(String(128))
    ds: Mapped[ts]
    step: Mapped[int] = mapped_column(Integer)
    yhat: Mapped[real]
    yhat_base: Mapped[real]
    yhat_lower_80: Mapped[real]
    yhat_upper_80: Mapped[real]
    yhat_lower_95: Mapped[real]
    yhat_upper_95: Mapped[real]
    model: Mapped[str] = mapped_column(String(32))


class ForecastScore(Base):
    """Backtest scores of one model on one series of a run (``selected`` marks the model chosen)."""

    __tablename__ = "forecast_scores"
    __table_args__ = (UniqueConstraint("run_id", "series_id", "model"),)

    id: Mapped[intpk]
    run_id: Mapped[run_fk]
    series_id: Mapped[str] = mapped_column(String(128))
    model: Mapped[str] = mapped_column(String(32))
    mae: Mapped[real_opt]
    rel_mae: Mapped[real_opt]
    mase: Mapped[real_opt]
    cover_80: Mapped[real_opt]
    cover_95: Mapped[real_opt]
    points: Mapped[count]
    failed: Mapped[count]
    selected: Mapped[bool] = mapped_column(Boolean)


# --- detect ----------------------------------------------------------------------------------------
detect_fk = Annotated[int, mapped_column(ForeignKey("detect_runs.id", ondelete="CASCADE"))]


class DetectRun(Base):
    """One ``riskwatch detect`` run, keyed by (freq, as_of); it scores ``period``. A re-run replaces its rows."""

    __tablename__ = "detect_runs"
    __table_args__ = (UniqueConstraint("freq", "as_of"),)

    id: Mapped[intpk]
    freq: Mapped[str] = mapped_column(String(1))
    as_of: Mapped[ts]
    period: Mapped[ts]
    series_count: Mapped[count]
    scored_count: Mapped[count]
    started_at: Mapped[ts]
    finished_at: Mapped[ts_opt]


class DetectScore(Base):
    """A series' score for the run's period, with its evidence (see ``detect.combine.SCORE_COLUMNS``)."""

    __tablename__ = "detect_scores"
    __table_args__ = (UniqueConstraint("run_id", "series_id"),)

    id: Mapped[intpk]
    run_id: Mapped[detect_fk]
    series_id: Mapped[str] = mapped_column(String(128))
    ds: Mapped[ts]
    observed: Mapped[real_opt]
    expected: Mapped[real_opt]
    upper: Mapped[real_opt]
    p_value: Mapped[real_opt]
    score: Mapped[real_opt]
    spike: Mapped[bool] = mapped_column(Boolean)
    rise: Mapped[bool] = mapped_column(Boolean)
    rise_p: Mapped[real_opt]
    alarm: Mapped[bool] = mapped_column(Boolean)
    detector: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    forecast_upper: Mapped[real_opt]  # the 95% upper bound a forecast made before the period gave it
    shift_start: Mapped[ts_opt]       # set when this run confirmed a level shift of the series: its start
    shift_ratio: Mapped[real_opt]     # and the new level / the expected one


class SignalState(Base):
    """A signal as it stood after a run: one row per (run, signal). The newest run's rows are the signals
    of now; a run's states follow from the run before (``detect.lifecycle``)."""

    __tablename__ = "signals"
    __table_args__ = (UniqueConstraint("run_id", "signal_key"),)

    id: Mapped[intpk]
    run_id: Mapped[detect_fk]
    signal_key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))
    category_code: Mapped[code_opt]
    region_code: Mapped[code_opt]
    period: Mapped[ts]
    observed: Mapped[real_opt]
    expected: Mapped[real_opt]
    upper: Mapped[real_opt]
    p_value: Mapped[real_opt]
    label: Mapped[str] = mapped_column(String(32))
    sentence: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text)  # JSON
    status: Mapped[str] = mapped_column(String(16))
    opened: Mapped[ts]
    last_seen: Mapped[ts]
    quiet: Mapped[count]
    silenced: Mapped[str] = mapped_column(Text)  # the reason of the silence muting it, "" when shown


class Silence(Base):
    """An analyst's decision to mute the signals matching ``pattern`` (a key or a shell pattern) until
    ``expires_at``, with the reason; kept after it expires (the record of who muted what)."""

    __tablename__ = "silences"
    __table_args__ = (UniqueConstraint("pattern", "starts_at"),)

    id: Mapped[intpk]
    pattern: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[ts]
    expires_at: Mapped[ts]


# --- persons ---------------------------------------------------------------------------------------
class PersonsRun(Base):
    """One ``riskwatch persons`` run: full (every record re-resolved, the model re-fitted) or incremental
    (new and changed records matched against the persons already known, with the stored model)."""

    __tablename__ = "persons_runs"

    id: Mapped[intpk]
    mode: Mapped[str] = mapped_column(String(16))
    records: Mapped[count]
    new_records: Mapped[count]
    persons: Mapped[count]
    pairs: Mapped[count]
    merged: Mapped[count]
    model: Mapped[str] = mapped_column(Text)  # JSON: Fellegi–Sunter m, u and prior (linkage.Model.to_dict)
    started_at: Mapped[ts]
    finished_at: Mapped[ts_opt]
    # JSON: a digest of each input the run's result depends on, as it stood when the run finished (cases
    # and their parties, decisions, the register, settings, schema, code version); a later run whose
    # inputs are all the same has nothing to do (``pipeline.run_persons``). Null for runs before 0005.
    inputs: Mapped[text_opt]


class PersonRecord(Base):
    """The person a recorded party belongs to. ``record_id`` is ``<source>:<source_id>:<seq>``, the party's
    natural key (party rows are rewritten when a case is updated); ``record_hash`` is a digest of the fields
    resolution reads, so a corrected name or ID number makes the record be resolved again."""

    __tablename__ = "person_records"
    __table_args__ = (UniqueConstraint("record_id"), Index(None, "person_id"), Index(None, "source", "source_id"))

    id: Mapped[intpk]
    record_id: Mapped[str] = mapped_column(String(255))
    source: Mapped[code]
    source_id: Mapped[str] = mapped_column(String(128))
    seq: Mapped[int] = mapped_column(Integer)
    person_id: Mapped[str] = mapped_column(String(32))
    confidence: Mapped[float] = mapped_column(Float)
    record_hash: Mapped[str] = mapped_column(String(32))
    run_id: Mapped[int] = mapped_column(Integer)


class PersonDecision(Base):
    """An analyst's merge or split, in record ids: a merge joins ``left`` and ``right`` into one person; a
    split keeps them apart. Later runs, full or incremental, apply every decision (``linkage.Constraints``)."""

    __tablename__ = "person_decisions"

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(8))
    left: Mapped[str] = mapped_column(Text)   # JSON list of record ids
    right: Mapped[str] = mapped_column(Text)  # JSON list of record ids
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[ts]


class CaseMatter(Base):
    """The matter of a case (重复信访: the same person raising the same matter again), from the last run."""

    __tablename__ = "case_matters"
    __table_args__ = (UniqueConstraint("source", "source_id"), Index(None, "matter_id"))

    id: Mapped[intpk]
    source: Mapped[code]
    source_id: Mapped[str] = mapped_column(String(128))
    matter_id: Mapped[str] = mapped_column(String(255))
    is_repeat: Mapped[bool] = mapped_column(Boolean)
    repeat_of_source: Mapped[code_opt]
    repeat_of_source_id: Mapped[str | None] = mapped_column(String(128))
    similarity: Mapped[real_opt]


class PersonGroup(Base):
    """An organised group (a community of the persons graph) as the last run found it."""

    __tablename__ = "person_groups"
    __table_args__ = (UniqueConstraint("group_id"),)

    id: Mapped[intpk]
    group_id: Mapped[str] = mapped_column(String(32))
    size: Mapped[count]
    cases: Mapped[count]
    group_cases: Mapped[count]
    first_seen: Mapped[ts_opt]
    last_seen: Mapped[ts_opt]
    max_level: Mapped[code_opt]
    levels: Mapped[str] = mapped_column(Text)     # JSON list
    townships: Mapped[str] = mapped_column(Text)  # JSON list of township codes
    category_code: Mapped[code_opt]
    central: Mapped[str] = mapped_column(Text)    # JSON list of person ids


class GroupMember(Base):
    __tablename__ = "group_members"
    __table_args__ = (UniqueConstraint("group_id", "person_id"), Index(None, "person_id"))

    id: Mapped[intpk]
    group_id: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[str] = mapped_column(String(32))
    joined_at: Mapped[ts_opt]
    centrality: Mapped[real_opt]


class GroupCase(Base):
    __tablename__ = "group_cases"
    __table_args__ = (UniqueConstraint("group_id", "source", "source_id"),)

    id: Mapped[intpk]
    group_id: Mapped[str] = mapped_column(String(32))
    source: Mapped[code]
    source_id: Mapped[str] = mapped_column(String(128))


cases_table = Case.__table__
parties_table = Party.__table__
events_table = CaseEvent.__table__
batches_table = IngestBatch.__table__
quarantine_table = Quarantine.__table__
notes_table = IngestNote.__table__
forecast_runs_table = ForecastRun.__table__
forecast_series_table = ForecastSeries.__table__
forecasts_table = ForecastValue.__table__
forecast_scores_table = ForecastScore.__table__
detect_runs_table = DetectRun.__table__
detect_scores_table = DetectScore.__table__
signals_table = SignalState.__table__
silences_table = Silence.__table__
persons_runs_table = PersonsRun.__table__
person_records_table = PersonRecord.__table__
person_decisions_table = PersonDecision.__table__
case_matters_table = CaseMatter.__table__
person_groups_table = PersonGroup.__table__
group_members_table = GroupMember.__table__
group_cases_table = GroupCase.__table__


# --- the risk ledger ---------------------------------------------------------------------------------
class LedgerRun(Base):
    """One ``riskwatch ledger`` run, keyed by ``as_of``: the detect run it read and what it changed."""

    __tablename__ = "ledger_runs"
    __table_args__ = (UniqueConstraint("as_of"),)

    id: Mapped[intpk]
    as_of: Mapped[ts]
    detect_run_id: Mapped[int | None] = mapped_column(Integer)
    items: Mapped[count]
    events: Mapped[count]
    started_at: Mapped[ts]
    finished_at: Mapped[ts_opt]


class RiskItem(Base):
    """A risk item as it stands (``assign.lifecycle.LEDGER_COLUMNS`` and what ``grade.items`` said of it);
    its history is in ``risk_item_events``."""

    __tablename__ = "risk_items"
    __table_args__ = (UniqueConstraint("item_key"), Index(None, "status"), Index(None, "owner_id"))

    id: Mapped[intpk]
    item_key: Mapped[str] = mapped_column(String(255))
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(255))
    category_code: Mapped[code_opt]
    region_code: Mapped[code_opt]
    grade: Mapped[str] = mapped_column(String(8))
    score: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[code_opt]
    due_at: Mapped[ts_opt]
    renotified: Mapped[bool] = mapped_column(Boolean)
    override_grade: Mapped[str | None] = mapped_column(String(8))
    override_score: Mapped[real_opt]
    override_basis: Mapped[str | None] = mapped_column(String(8))
    evidence: Mapped[str] = mapped_column(Text)   # JSON list of signal keys
    case_keys: Mapped[str] = mapped_column(Text)  # JSON list of "<source>:<source_id>"
    chain: Mapped[str] = mapped_column(Text)      # JSON object (a hotspot's groups and repeat petitioners)
    reasons: Mapped[str] = mapped_column(Text)    # JSON list of the rules that counted
    sentence: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[ts]
    updated_at: Mapped[ts]
    supported_at: Mapped[ts_opt]  # the last run whose evidence reached the grade held (migration 0007)
    since_grade: Mapped[str | None] = mapped_column(String(8))  # the highest grade computed since then


class RiskItemEvent(Base):
    """One step of an item's life (append-only): who did what, when, with the grade, owner and deadline after it."""

    __tablename__ = "risk_item_events"
    __table_args__ = (Index(None, "item_key", "at"),)

    id: Mapped[intpk]
    item_key: Mapped[str] = mapped_column(String(255))
    at: Mapped[ts]
    kind: Mapped[str] = mapped_column(String(32))
    by: Mapped[str] = mapped_column(String(64))
    grade: Mapped[str] = mapped_column(String(8))
    owner_id: Mapped[code_opt]
    due_at: Mapped[ts_opt]
    note: Mapped[str] = mapped_column(Text)
