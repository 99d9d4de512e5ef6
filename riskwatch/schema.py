"""Frame column names, enumerations and error classes shared by every layer.

Column names are defined once here; every frame that crosses a module boundary uses them.

Clean case frame (one row per case, produced by ``ingest.normalize``), columns ``CASE_COLUMNS``:

==================  ===========================================================================
source              name of the mapping that read the row (``hotline_12345``, ``petition_register``)
source_id           the source system's id of the case (工单编号 / 信访件编号), unique per source
channel             a ``Channel`` value
received_at         wall-clock time in Asia/Shanghai (naive ``datetime64``), never null
registered_at       登记/受理 time, may be null
due_at              deadline as recorded by the source, may be null
closed_at           办结 time, null while open
updated_at          the source's own last-modified time, may be null (used to order versions)
category_code       leaf code in the category taxonomy, ``UNCLASSIFIED`` when unknown
category_raw        the label as written in the export
region_code         deepest region resolved (grid when known, else a parent), city code when unknown
region_raw          the region text as written in the export (joined levels)
level               a ``Level`` value: highest level reached
is_group            bool, a group case (群体访)
headcount           int, people present / signing (>= 1)
handling_unit       承办单位, free text
status              a ``Status`` value
resolved            nullable bool, 是否解决
satisfaction        a ``Satisfaction`` value
returned_count      int, times returned by an assigned unit (退单次数)
urgency             hotline urgency label (一般 / 加急 / 紧急), may be null
content             free text as recorded (诉求内容 / 信访内容)
summary             short title (标题 / 内容摘要), may be null
row_number          1-based row number in the input file (data rows counted from the file's first line)
==================  ===========================================================================

Clean party frame (one row per person recorded on a case), columns ``PARTY_COLUMNS``:
``source, source_id, seq, role, name, id_number, id_valid, phone, phone_valid, address, region_code,
account_id``. ``seq`` is 0 for the first-named person. ``id_number`` is normalized (18 characters, upper
``X``) when it could be; ``id_valid`` is True only when the GB 11643 check digit and birth date are right.

Quarantine frame, columns ``QUARANTINE_COLUMNS``: ``row_number, field, reason, raw`` where ``raw`` is
the whole input row as a JSON object of header -> text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# --- case frame ------------------------------------------------------------------------------
SOURCE = "source"
SOURCE_ID = "source_id"
CHANNEL = "channel"
RECEIVED_AT = "received_at"
REGISTERED_AT = "registered_at"
DUE_AT = "due_at"
CLOSED_AT = "closed_at"
UPDATED_AT = "updated_at"
CATEGORY_CODE = "category_code"
CATEGORY_RAW = "category_raw"
REGION_CODE = "region_code"
REGION_RAW = "region_raw"
LEVEL = "level"
IS_GROUP = "is_group"
HEADCOUNT = "headcount"
HANDLING_UNIT = "handling_unit"
STATUS = "status"
RESOLVED = "resolved"
SATISFACTION = "satisfaction"
RETURNED_COUNT = "returned_count"
URGENCY = "urgency"
CONTENT = "content"
SUMMARY = "summary"
ROW_NUMBER = "row_number"

CASE_COLUMNS: tuple[str, ...] = (
    SOURCE, SOURCE_ID, CHANNEL, RECEIVED_AT, REGISTERED_AT, DUE_AT, CLOSED_AT, UPDATED_AT,
    CATEGORY_CODE, CATEGORY_RAW, REGION_CODE, REGION_RAW, LEVEL, IS_GROUP, HEADCOUNT,
    HANDLING_UNIT, STATUS, RESOLVED, SATISFACTION, RETURNED_COUNT, URGENCY, CONTENT, SUMMARY,
    ROW_NUMBER,
)

# --- party frame -----------------------------------------------------------------------------
SEQ = "seq"
ROLE = "role"
NAME = "name"
ID_NUMBER = "id_number"
ID_VALID = "id_valid"
PHONE = "phone"
PHONE_VALID = "phone_valid"
ADDRESS = "address"
ACCOUNT_ID = "account_id"

PARTY_COLUMNS: tuple[str, ...] = (
    SOURCE, SOURCE_ID, SEQ, ROLE, NAME, ID_NUMBER, ID_VALID, PHONE, PHONE_VALID, ADDRESS,
    REGION_CODE, ACCOUNT_ID,
)

# --- raw chunk meta columns (readers -> normalize) --------------------------------------------
IS_TOTAL_ROW = "is_total_row"  # bool: a 合计 / 总计 row, quarantined, not a record
EXTRA_CELLS = "extra_cells"  # text of non-empty cells beyond the header's width, else None
READ_PROBLEM = "read_problem"  # why the reader could not take the record as it stands (quarantined), else None
READ_NOTE = "read_note"  # what the reader repaired in the record (stored with this note), else None

# --- quarantine frame ------------------------------------------------------------------------
FIELD = "field"
REASON = "reason"
RAW = "raw"
QUARANTINE_COLUMNS: tuple[str, ...] = (ROW_NUMBER, FIELD, REASON, RAW)

UNCLASSIFIED = "99"  # category code of 未分类


class Channel(StrEnum):
    """How a case reached us (渠道)."""

    LETTER = "letter"  # 来信
    VISIT = "visit"  # 来访
    PHONE = "phone"  # 来电 (petition office phone)
    WEB = "web"  # 网上信访
    HOTLINE_12345 = "hotline_12345"
    HOTLINE_12328 = "hotline_12328"


CHANNEL_LABELS: dict[Channel, str] = {
    Channel.LETTER: "来信",
    Channel.VISIT: "来访",
    Channel.PHONE: "来电",
    Channel.WEB: "网上信访",
    Channel.HOTLINE_12345: "12345热线",
    Channel.HOTLINE_12328: "12328热线",
}


class Level(StrEnum):
    """Highest level a matter reached (层级)."""

    DISTRICT = "district"  # 区
    CITY = "city"  # 市
    PROVINCE = "province"  # 省
    NATIONAL = "national"  # 进京


LEVEL_RANK: dict[Level, int] = {Level.DISTRICT: 0, Level.CITY: 1, Level.PROVINCE: 2, Level.NATIONAL: 3}
LEVEL_LABELS: dict[Level, str] = {
    Level.DISTRICT: "区", Level.CITY: "市", Level.PROVINCE: "省", Level.NATIONAL: "进京",
}


class Status(StrEnum):
    """Processing status of a case."""

    RECEIVED = "received"  # 已受理 / 待办
    IN_PROGRESS = "in_progress"  # 办理中
    RETURNED = "returned"  # 已退单 (waiting to be re-assigned)
    CLOSED = "closed"  # 已办结


STATUS_RANK: dict[Status, int] = {
    Status.RECEIVED: 0, Status.IN_PROGRESS: 1, Status.RETURNED: 1, Status.CLOSED: 2,
}


class Satisfaction(StrEnum):
    """Petitioner's evaluation (满意度)."""

    SATISFIED = "satisfied"  # 满意
    BASIC = "basic"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意
    NONE = "none"  # 未评价


class Role(StrEnum):
    """Role of a party on a case."""

    PETITIONER = "petitioner"  # 信访人 / 来电人
    CO_PETITIONER = "co_petitioner"  # 联名 / 同行人
    REPRESENTATIVE = "representative"  # 代表
    PROXY = "proxy"  # 代理人


class RegionLevel(StrEnum):
    """Depth in the region tree."""

    CITY = "city"
    DISTRICT = "district"
    TOWNSHIP = "township"
    COMMUNITY = "community"
    GRID = "grid"


REGION_DEPTH: dict[RegionLevel, int] = {
    RegionLevel.CITY: 0, RegionLevel.DISTRICT: 1, RegionLevel.TOWNSHIP: 2,
    RegionLevel.COMMUNITY: 3, RegionLevel.GRID: 4,
}


# --- series and forecast frames --------------------------------------------------------------
# A series frame is long: one row per (series_id, ds). A forecast frame adds the model's output.
SERIES_ID = "series_id"      # "<freq>:<category code or *>:<region code>", e.g. "W:0101:339901"
DS = "ds"                    # period start (day; Monday of a week; 1st of a month), datetime64
Y = "y"                      # count used for modelling (nowcast-corrected for late entry)
Y_OBSERVED = "y_observed"    # cases received in the period and known at as_of
STEP = "step"                # 1-based periods ahead of the last observed period
MODEL = "model"              # the model that really produced the row (a fallback says so)
NOTE = "note"                # why a fallback or adjustment was used, else ""
YHAT = "yhat"
YHAT_LOWER_80 = "yhat_lower_80"
YHAT_UPPER_80 = "yhat_upper_80"
YHAT_LOWER_95 = "yhat_lower_95"
YHAT_UPPER_95 = "yhat_upper_95"
SERIES_COLUMNS: tuple[str, ...] = (SERIES_ID, DS, Y, Y_OBSERVED)
INTERVAL_COLUMNS: tuple[str, ...] = (YHAT_LOWER_80, YHAT_UPPER_80, YHAT_LOWER_95, YHAT_UPPER_95)
FORECAST_COLUMNS: tuple[str, ...] = (SERIES_ID, DS, STEP, YHAT, *INTERVAL_COLUMNS, MODEL, NOTE)

# --- signals (detect) -----------------------------------------------------------------------
# A signal frame has one row per finding of one run (as_of): what the analyst is warned about.
class SignalKind(StrEnum):
    """What a signal says (预警信号类型)."""

    SPIKE = "spike"                # a period far above its expected count (突增)
    RISE = "rise"                  # a slow, sustained rise no single period reveals (持续上升)
    LEVEL_SHIFT = "level_shift"    # a lasting change of level; the baseline has adapted (水平变化)
    ESCALATION = "escalation"      # a case reached city, province or national level (越级 / 进京)
    OVERDUE = "overdue"            # a case past its legal or local deadline (超期)
    RETURNED = "returned"          # a work order returned twice or more (多次退单)
    DISSATISFIED = "dissatisfied"  # the petitioner was not satisfied (不满意)
    GROUP_GROWTH = "group_growth"          # an organised group gained many members fast (群体扩大)
    GROUP_SPREAD = "group_spread"          # a group's cases reached a new township (跨镇蔓延)
    GROUP_ESCALATION = "group_escalation"  # a group reached a higher level than ever before (群体升级)
    REPEAT = "repeat"              # a matter petitioned again after earlier cases (重复信访)


SIGNAL_KIND_LABELS: dict[SignalKind, str] = {
    SignalKind.SPIKE: "突增", SignalKind.RISE: "持续上升", SignalKind.LEVEL_SHIFT: "水平变化",
    SignalKind.ESCALATION: "越级上行", SignalKind.OVERDUE: "超期未结", SignalKind.RETURNED: "多次退单",
    SignalKind.DISSATISFIED: "不满意", SignalKind.GROUP_GROWTH: "群体扩大", SignalKind.GROUP_SPREAD: "跨镇蔓延",
    SignalKind.GROUP_ESCALATION: "群体升级", SignalKind.REPEAT: "重复信访",
}

SIGNAL_KEY = "signal_key"    # stable identity across runs: "<kind>:<subject>", e.g. "spike:W:0101:339901"
KIND = "kind"                # a SignalKind value
SUBJECT = "subject"          # a series_id for volume signals, "<source>:<source_id>" for case signals
PERIOD = "period"            # start of the period the finding is about (a week's Monday), datetime64
OBSERVED = "observed"        # count in the period (volume signals), else NaN
EXPECTED = "expected"        # expected count, else NaN
UPPER = "upper"              # alarm threshold (95%+ upper bound), else NaN
P_VALUE = "p_value"          # exceedance probability, else NaN
LABEL = "label"              # artifact label: "" (a real surge), "one_source", "batch_entry", "one_unit"
SENTENCE = "sentence"        # one plain Chinese sentence with the numbers
EVIDENCE = "evidence"        # dict of further figures (JSON-serializable)
SIGNAL_COLUMNS: tuple[str, ...] = (SIGNAL_KEY, KIND, SUBJECT, CATEGORY_CODE, REGION_CODE, PERIOD, OBSERVED,
                                   EXPECTED, UPPER, P_VALUE, LABEL, SENTENCE, EVIDENCE)

# A score frame (``detect.combine``) has one row per period of a series: the detector's evidence.
SCORE = "score"
ALARM = "alarm"
SPIKE = "spike"
RISE = "rise"
RISE_P = "rise_p"       # p-value of the CUSUM's accumulated excess
RISE_RUN = "rise_run"   # periods the CUSUM has accumulated over, with their summed counts and expectations
RISE_OBSERVED = "rise_observed"
RISE_EXPECTED = "rise_expected"
DETECTOR = "detector"
STATE = "state"         # SCORED, INSUFFICIENT or MISSING
SCORED, INSUFFICIENT, MISSING = "scored", "insufficient", "missing"
SCORE_COLUMNS: tuple[str, ...] = (OBSERVED, EXPECTED, UPPER, P_VALUE, SCORE, SPIKE, RISE, RISE_P, RISE_RUN,
                                  RISE_OBSERVED, RISE_EXPECTED, ALARM, DETECTOR, STATE)
FORECAST_UPPER = "forecast_upper"   # optional score column: the 95% bound a forecast made before the week gave it

# A state frame (``detect.lifecycle``) is a signal frame with where each signal stands after a run.
# (``STATUS``, "status", is opened | ongoing | closed here.)
OPENED = "opened"        # period the signal opened
LAST_SEEN = "last_seen"  # last period with a finding or support
QUIET = "quiet"          # consecutive periods without either
SILENCED = "silenced"    # the reason of the silence muting it, "" when shown
STATE_COLUMNS: tuple[str, ...] = (*SIGNAL_COLUMNS, STATUS, OPENED, LAST_SEEN, QUIET, SILENCED)

# --- persons, matters and groups (persons) -----------------------------------------------------
RECORD_ID = "record_id"     # a recorded party ("<source>:<source_id>:<seq>" in the store)
PERSON_ID = "person_id"
MATTER_ID = "matter_id"
GROUP_ID = "group_id"
PARTY_FILE_COLUMNS: tuple[str, ...] = (RECORD_ID, NAME, ID_NUMBER, PHONE, ADDRESS)  # persons.features' input
DECISION_KINDS: tuple[str, ...] = ("merge", "split")   # an analyst's decision on the register
# matters and repeats (``persons.repeats``): one row per case
REPEAT_OF_SOURCE = "repeat_of_source"
REPEAT_OF_SOURCE_ID = "repeat_of_source_id"
IS_REPEAT = "is_repeat"
SIMILARITY = "similarity"
REPEAT_COLUMNS: tuple[str, ...] = (SOURCE, SOURCE_ID, MATTER_ID, REPEAT_OF_SOURCE, REPEAT_OF_SOURCE_ID,
                                   IS_REPEAT, SIMILARITY)
# groups (``persons.groups``): one row per group, per member, per case of a group
GROUP_COLUMNS: tuple[str, ...] = (GROUP_ID, "size", "cases", "group_cases", "first_seen", "last_seen",
                                  "max_level", "levels", "townships", CATEGORY_CODE, "central")
MEMBER_COLUMNS: tuple[str, ...] = (GROUP_ID, PERSON_ID, "joined_at", "centrality")
GROUP_CASE_COLUMNS: tuple[str, ...] = (GROUP_ID, SOURCE, SOURCE_ID)

# --- risk ledger (grade) ---------------------------------------------------------------------
class Grade(StrEnum):
    """A risk item's grade (预警等级): who owns it."""

    RED = "red"        # a county-level leader owns it (县级领导包案)
    YELLOW = "yellow"  # a township or street leader owns it (乡镇领导包案)
    BLUE = "blue"      # the grid worker resolves it (网格直接化解)


GRADE_RANK: dict[Grade, int] = {Grade.BLUE: 0, Grade.YELLOW: 1, Grade.RED: 2}
GRADE_LABELS: dict[Grade, str] = {Grade.RED: "红色", Grade.YELLOW: "黄色", Grade.BLUE: "蓝色"}
ITEM_KEY = "item_key"  # a risk item's subject: "person:<id>", "group:<id>", "case:<source>:<id>", "hotspot:<series>"


# --- count files (the standalone forecast and detect modes read and write date,count) ------------
DATE = "date"                # a day (or the first day of the week / month the count covers)
COUNT = "count"              # cases on that date; blank = missing, never zero


# --- errors ----------------------------------------------------------------------------------
class RiskwatchError(Exception):
    """Base class of riskwatch's own errors."""


class ConfigError(RiskwatchError):
    """A configuration file is missing or invalid; names the file and the key."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        self.file, self.key, self.reason = file, key, reason
        super().__init__(f"{file}: {key}: {reason}")


class UnreadableFileError(RiskwatchError):
    """An input file cannot be read at all (wrong format, no header, undecodable)."""

    def __init__(self, file: str, reason: str) -> None:
        self.file, self.reason = file, reason
        super().__init__(f"{file}: {reason}")

    @classmethod
    def for_rows(cls, file: str, problems: list[RowProblem], listed: int = 10) -> UnreadableFileError:
        """A file refused as a whole for its bad rows: the first ``listed`` named by row and field."""
        problems = sorted(problems, key=lambda p: p.row)
        text = "; ".join(f"row {p.row}: {p.field}: {p.reason}" for p in problems[:listed])
        more = f" (and {len(problems) - listed} more)" if len(problems) > listed else ""
        return cls(file, f"{len(problems)} bad row(s): {text}{more}")


@dataclass(frozen=True)
class RowProblem:
    """Where a row went wrong: file, 1-based row number, field and reason."""

    file: str
    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: row {self.row}: {self.field}: {self.reason}"


def require_columns(frame_columns: object, needed: tuple[str, ...] | list[str], where: str) -> None:
    """Raise ``ValueError`` naming ``where`` and the missing columns when a frame lacks any of ``needed``."""
    have = set(frame_columns)  # type: ignore[call-overload]
    missing = [c for c in needed if c not in have]
    if missing:
        raise ValueError(f"{where}: missing column(s): {', '.join(missing)}")
