"""The only reader of ``config/``: loads the TOML files once into frozen, validated settings.

Errors name the file and the key (``ConfigError``). Functions elsewhere receive the section they
need (``RegionTree``, ``Taxonomy``, ``SourceMapping`` ...), never the whole ``Settings``.

Where the configuration lives: ``--config DIR`` on the command line, else the environment variable
``RISKWATCH_CONFIG``, else the ``config/`` folder beside the package (the demo city).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from riskwatch.grade.rules import GradingRules, RulesError, rules_from_dict
from riskwatch.schema import (
    UNCLASSIFIED,
    Channel,
    ConfigError,
    Grade,
    Level,
    RegionLevel,
    Satisfaction,
    Status,
)

CONFIG_ENV = "RISKWATCH_CONFIG"
DATABASE_ENV = "RISKWATCH_DATABASE_URL"
DEFAULT_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
DEFAULT_DATABASE_URL = "sqlite:///var/riskwatch.db"

CASE_FIELDS = (
    "source_id", "channel", "received_at", "registered_at", "due_at", "closed_at", "updated_at",
    "category", "category_l1", "category_l2", "region_code", "region_district", "region_township",
    "region_community", "region_grid", "level", "headcount", "is_group", "handling_unit", "status",
    "resolved", "satisfaction", "returned_count", "urgency", "content", "summary",
)
PARTY_FIELDS = ("name", "id_number", "phone", "address", "account_id", "co_parties")
VALUE_MAPS: dict[str, type | None] = {
    "channel": Channel, "status": Status, "satisfaction": Satisfaction, "level": Level,
    "resolved": None, "is_group": None,
}


# --- sections ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: RegionLevel
    parent: str  # "" for the city


@dataclass(frozen=True)
class RegionTree:
    """The region tree, keyed by code; ``root`` is the city."""

    regions: Mapping[str, Region]
    root: str

    def children(self, code: str) -> list[Region]:
        return [r for r in self.regions.values() if r.parent == code]

    def at_level(self, level: RegionLevel) -> list[Region]:
        return [r for r in self.regions.values() if r.level == level]

    def ancestors(self, code: str) -> list[str]:
        """Codes from ``code`` up to the root, ``code`` first."""
        out = []
        while code:
            out.append(code)
            code = self.regions[code].parent
        return out

    def ancestor_at(self, code: str, level: RegionLevel) -> str | None:
        for c in self.ancestors(code):
            if self.regions[c].level == level:
                return c
        return None


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    parent: str  # "" for a top-level category
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    """Two-level category tree; ``UNCLASSIFIED`` ("99", 未分类) always exists."""

    categories: Mapping[str, Category]

    def top_level(self) -> list[Category]:
        return [c for c in self.categories.values() if not c.parent]

    def leaves(self) -> list[Category]:
        parents = {c.parent for c in self.categories.values()}
        return [c for c in self.categories.values() if c.parent or c.code not in parents]

    def label(self, code: str) -> str:
        """``劳动社保›欠薪`` for a leaf, ``劳动社保`` for a top-level code."""
        c = self.categories[code]
        return f"{self.categories[c.parent].name}›{c.name}" if c.parent else c.name


STAFF_ROLES = ("county_leader", "township_leader", "grid_worker", "analyst")


@dataclass(frozen=True)
class StaffMember:
    id: str
    name: str
    title: str
    role: str  # county_leader | township_leader | grid_worker | analyst (reviews and verifies, owns no item)
    region: str
    phone: str
    cap: int
    email: str = ""


@dataclass(frozen=True)
class HotlineSla:
    urgency: str
    limit: int
    unit: str  # hours | working_days


@dataclass(frozen=True)
class Deadlines:
    register_days: int
    conclude_days: int
    extension_max_days: int
    review_request_days: int
    review_answer_days: int
    roll_to_working_day: bool
    hotline_default_urgency: str
    hotline_slas: tuple[HotlineSla, ...]


@dataclass(frozen=True)
class SensitivePeriod:
    id: str
    name: str
    kind: str  # fixed | lunar | range
    start: str  # "MM-DD" (solar or lunar), "" for kind=range
    days: int
    lead_days: int
    offset_days: int = 0
    overrides: tuple[tuple[date, date], ...] = ()


@dataclass(frozen=True)
class SourceMapping:
    """How one source's export headers and values map to the canonical fields."""

    name: str
    label: str
    default_channel: Channel
    kind: str  # hotline | petition
    fields: Mapping[str, tuple[str, ...]]
    party: Mapping[str, tuple[str, ...]]
    values: Mapping[str, Mapping[str, Any]]
    file: str


@dataclass(frozen=True)
class GroupRules:
    min_headcount: int
    max_representatives: int
    bands: tuple[int, ...]


@dataclass(frozen=True)
class HolidayOverrides:
    """Official days off and adjusted working days (调休) from a State Council notice newer than the
    ``holidays`` package (``config/holidays.toml``). A year listed here replaces the package's calendar
    for that year entirely: ``days_off`` are the non-working days that are not plain weekends, ``workdays``
    the weekend days that are working days (补班)."""

    years: frozenset[int] = frozenset()
    days_off: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    names: Mapping[date, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ForecastSettings:
    """``[forecast]`` in ``settings.toml``: which series are built and how they are forecast."""

    horizon_weeks: int = 13
    horizon_months: int = 6
    min_weekly_mean: float = 1.0       # a cell below this (last year's weekly mean) is apportioned
    backtest_origins: int = 3
    prophet_min_weekly_mean: float = 50.0  # Prophet is fitted only on series at least this large
    ets_min_weekly_mean: float = 0.0   # ETS is fitted only on series at least this large
    workers: int = 2
    levels: tuple[tuple[str, str], ...] = (  # (category level, region level) of the series built
        ("all", "city"), ("top", "city"), ("leaf", "city"), ("all", "district"), ("top", "district"),
        ("leaf", "district"), ("all", "township"), ("top", "township"))


@dataclass(frozen=True)
class DetectSettings:
    """``[detect]`` in ``settings.toml``: how alarms become signals (``detect.lifecycle`` calls it the
    ``SignalPolicy``). Out-of-range values raise ``ValueError`` (``ConfigError`` when read from the file)."""

    fdr_q: float = 0.05          # Benjamini-Hochberg level over the series of one week
    explain_share: float = 0.5   # a descendant carrying this share of a parent's excess speaks for it
    close_after: int = 2         # quiet weeks before a volume signal closes
    stay_p: float = 0.05         # a p-value under this keeps an open signal open
    shift_window: int = 12       # level shift: at least shift_above of the last shift_window weeks
    shift_above: int = 10        #   above expectation,
    shift_alarms: int = 3        #   shift_alarms of them alarms,
    shift_ratio: float = 1.25    #   and observed / expected since it began at least this

    def __post_init__(self) -> None:
        problem = _detect_problem(self.__dict__)
        if problem:
            raise ValueError(f"DetectSettings: {problem[0]}: {problem[1]}")


def _detect_problem(v: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first out-of-range value of ``[detect]`` as (key, reason), else None."""
    for name in ("fdr_q", "stay_p", "explain_share"):
        if not 0 < v[name] < 1 and not (name == "explain_share" and v[name] == 1):
            return f"detect.{name}", f"out of range (0, 1): {v[name]!r}"
    if v["close_after"] < 1 or not 1 <= v["shift_above"] <= v["shift_window"] or v["shift_alarms"] < 1:
        return "detect", "need close_after >= 1, shift_alarms >= 1 and 1 <= shift_above <= shift_window"
    if v["shift_ratio"] <= 1:
        return "detect.shift_ratio", f"must be above 1: {v['shift_ratio']!r}"
    return None


@dataclass(frozen=True)
class PersonsSettings:
    """``[persons]`` in ``settings.toml``: identity resolution, repeat petitions, groups and their signals."""

    match_threshold: float = 0.95          # match probability above which two records are one person
    repeat_text_similarity: float = 0.5    # complaint texts this alike (TF-IDF cosine) tell the same matter
    group_min_size: int = 5                # a group has at least this many members ...
    group_min_households: int = 3          # ... from at least this many households
    group_growth_weeks: int = 4            # growth signal: new members counted over this many weeks,
    group_growth_min_new: int = 5          #   at least this many,
    group_growth_min_share: float = 0.25   #   and at least this share of the group
    group_escalation_level: str = "city"   # reaching this level or higher for the first time is a signal
    repeat_signal_min_earlier: int = 2     # repeat signal: a case whose matter had this many earlier cases
    repeat_signal_days: int = 365          #   within this many days


@dataclass(frozen=True)
class IngestSettings:
    chunk_rows: int
    max_field_chars: int
    earliest_received: date = date(2000, 1, 1)   # an earlier receipt date is a typo or a placeholder


@dataclass(frozen=True)
class LedgerSettings:
    """``[ledger]`` of ``grading.toml``: days an owner has to resolve an item, by grade."""

    deadline_days: Mapping[Grade, int] = field(default_factory=lambda: {Grade.RED: 7, Grade.YELLOW: 14,
                                                                        Grade.BLUE: 7})


@dataclass(frozen=True)
class Settings:
    config_dir: Path
    city_name: str
    timezone: str
    regions: RegionTree
    taxonomy: Taxonomy
    staff: tuple[StaffMember, ...]
    deadlines: Deadlines
    periods: tuple[SensitivePeriod, ...]
    mappings: Mapping[str, SourceMapping]
    group: GroupRules
    ingest: IngestSettings = field(default_factory=lambda: IngestSettings(50000, 20000))
    holidays: HolidayOverrides = field(default_factory=HolidayOverrides)
    forecast: ForecastSettings = field(default_factory=ForecastSettings)
    detect: DetectSettings = field(default_factory=DetectSettings)
    persons: PersonsSettings = field(default_factory=PersonsSettings)
    grading: GradingRules | None = None  # config/grading.toml (None only for hand-built settings in tests)
    ledger: LedgerSettings = field(default_factory=LedgerSettings)  # [ledger] of grading.toml


# --- loading ----------------------------------------------------------------------------------
def resolve_config_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``explicit`` if given, else ``$RISKWATCH_CONFIG``, else the bundled demo city."""
    chosen = explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_DIR
    return Path(chosen)


def resolve_database_url(explicit: str | None = None) -> str:
    """``explicit`` if given, else ``$RISKWATCH_DATABASE_URL``, else a SQLite file under ``var/``."""
    return explicit or os.environ.get(DATABASE_ENV) or DEFAULT_DATABASE_URL


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(str(path), "-", "file not found")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "-", f"not valid TOML: {exc}") from exc


def _get(doc: Mapping[str, Any], key: str, file: Path, kind: type | tuple[type, ...], where: str = "") -> Any:
    full = f"{where}.{key}" if where else key
    if key not in doc:
        raise ConfigError(str(file), full, "missing")
    value = doc[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ConfigError(str(file), full, f"expected {name}, got {type(value).__name__} {value!r}")
    return value


def load_ledger_settings(path: Path) -> LedgerSettings:
    doc = _read(path).get("ledger", {})
    if not isinstance(doc, Mapping):
        raise ConfigError(str(path), "ledger", f"expected a table, got {doc!r}")
    unknown = sorted(set(doc) - {"deadline_days"})
    if unknown:
        raise ConfigError(str(path), "ledger", f"unknown key(s): {', '.join(unknown)}")
    days = dict(LedgerSettings().deadline_days)
    given = doc.get("deadline_days", {})
    if not isinstance(given, Mapping):
        raise ConfigError(str(path), "ledger.deadline_days", f"expected a table, got {given!r}")
    for key, v in given.items():
        try:
            grade = Grade(key)
        except ValueError as exc:
            raise ConfigError(str(path), f"ledger.deadline_days.{key}", "expected red, yellow or blue") from exc
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(str(path), f"ledger.deadline_days.{key}", f"expected whole days >= 1, got {v!r}")
        days[grade] = v
    return LedgerSettings(days)


def load_grading_rules(path: Path, taxonomy: Taxonomy | None = None) -> GradingRules:
    """``grading.toml``: factors, hard rules and bumps (``grade.rules``); errors name the file and key."""
    try:
        rules = rules_from_dict(_read(path))
    except RulesError as exc:
        raise ConfigError(str(path), exc.key, exc.reason) from exc
    unknown = sorted(c for c in rules.sensitive_categories if taxonomy is not None and c not in taxonomy.categories)
    if unknown:
        raise ConfigError(str(path), "items.sensitive_categories", f"unknown category code(s): {', '.join(unknown)}")
    return rules


def load_regions(path: Path) -> RegionTree:
    doc = _read(path)
    regions: dict[str, Region] = {}
    for i, item in enumerate(_get(doc, "regions", path, list)):
        where = f"regions[{i}]"
        code = _get(item, "code", path, str, where)
        try:
            level = RegionLevel(_get(item, "level", path, str, where))
        except ValueError as exc:
            raise ConfigError(str(path), f"{where}.level", f"unknown level {item['level']!r}") from exc
        if code in regions:
            raise ConfigError(str(path), f"{where}.code", f"duplicate region code {code}")
        regions[code] = Region(code, _get(item, "name", path, str, where), level,
                               _get(item, "parent", path, str, where))
    roots = [r.code for r in regions.values() if not r.parent]
    if len(roots) != 1:
        raise ConfigError(str(path), "regions", f"expected exactly one root (parent = \"\"), found {roots}")
    for r in regions.values():
        if r.parent and r.parent not in regions:
            raise ConfigError(str(path), f"regions[{r.code}].parent", f"unknown parent {r.parent}")
    return RegionTree(regions, roots[0])


def load_taxonomy(path: Path) -> Taxonomy:
    doc = _read(path)
    cats: dict[str, Category] = {}
    for i, top in enumerate(_get(doc, "category", path, list)):
        where = f"category[{i}]"
        code = _get(top, "code", path, str, where)
        cats[code] = Category(code, _get(top, "name", path, str, where), "", tuple(top.get("aliases", ())))
        for j, child in enumerate(top.get("children", [])):
            cw = f"{where}.children[{j}]"
            ccode = _get(child, "code", path, str, cw)
            if ccode in cats:
                raise ConfigError(str(path), f"{cw}.code", f"duplicate category code {ccode}")
            cats[ccode] = Category(ccode, _get(child, "name", path, str, cw), code,
                                   tuple(child.get("aliases", ())))
    if UNCLASSIFIED not in cats:
        cats[UNCLASSIFIED] = Category(UNCLASSIFIED, "未分类", "")
    return Taxonomy(cats)


def load_staff(path: Path, regions: RegionTree) -> tuple[StaffMember, ...]:
    doc = _read(path)
    out = []
    for i, item in enumerate(_get(doc, "staff", path, list)):
        where = f"staff[{i}]"
        member = StaffMember(
            id=_get(item, "id", path, str, where), name=_get(item, "name", path, str, where),
            title=item.get("title", ""), role=_get(item, "role", path, str, where),
            region=_get(item, "region", path, str, where), phone=item.get("phone", ""),
            cap=_get(item, "cap", path, int, where), email=item.get("email", ""),
        )
        if member.role not in STAFF_ROLES:
            raise ConfigError(str(path), f"{where}.role", f"unknown role {member.role!r}")
        if member.region not in regions.regions:
            raise ConfigError(str(path), f"{where}.region", f"unknown region {member.region}")
        out.append(member)
    return tuple(out)


def load_deadlines(path: Path) -> Deadlines:
    doc = _read(path)
    p = _get(doc, "petition", path, dict)
    h = _get(doc, "hotline", path, dict)
    slas = []
    for i, s in enumerate(_get(h, "slas", path, list, "hotline")):
        where = f"hotline.slas[{i}]"
        unit = _get(s, "unit", path, str, where)
        if unit not in ("hours", "working_days", "days"):
            raise ConfigError(str(path), f"{where}.unit", f"unknown unit {unit!r}")
        slas.append(HotlineSla(_get(s, "urgency", path, str, where), _get(s, "limit", path, int, where), unit))
    return Deadlines(
        register_days=_get(p, "register_days", path, int, "petition"),
        conclude_days=_get(p, "conclude_days", path, int, "petition"),
        extension_max_days=_get(p, "extension_max_days", path, int, "petition"),
        review_request_days=_get(p, "review_request_days", path, int, "petition"),
        review_answer_days=_get(p, "review_answer_days", path, int, "petition"),
        roll_to_working_day=_get(p, "roll_to_working_day", path, bool, "petition"),
        hotline_default_urgency=_get(h, "default_urgency", path, str, "hotline"),
        hotline_slas=tuple(slas),
    )


def load_periods(path: Path) -> tuple[SensitivePeriod, ...]:
    doc = _read(path)
    overrides: dict[str, list[tuple[date, date]]] = {}
    for i, o in enumerate(doc.get("override", [])):
        where = f"override[{i}]"
        try:
            start = date.fromisoformat(_get(o, "start", path, str, where))
            end = date.fromisoformat(_get(o, "end", path, str, where))
        except ValueError as exc:
            raise ConfigError(str(path), where, f"bad date: {exc}") from exc
        overrides.setdefault(_get(o, "period", path, str, where), []).append((start, end))
    out = []
    for i, p in enumerate(_get(doc, "period", path, list)):
        where = f"period[{i}]"
        kind = _get(p, "kind", path, str, where)
        if kind not in ("fixed", "lunar", "range"):
            raise ConfigError(str(path), f"{where}.kind", f"unknown kind {kind!r}")
        pid = _get(p, "id", path, str, where)
        out.append(SensitivePeriod(
            id=pid, name=_get(p, "name", path, str, where), kind=kind,
            start=p.get("start", "") if kind != "range" else "",
            days=_get(p, "days", path, int, where) if kind != "range" else 0,
            lead_days=_get(p, "lead_days", path, int, where), offset_days=p.get("offset_days", 0),
            overrides=tuple(sorted(overrides.pop(pid, []))),
        ))
    if overrides:
        raise ConfigError(str(path), "override", f"unknown period(s): {', '.join(overrides)}")
    return tuple(out)


def load_holiday_overrides(path: Path) -> HolidayOverrides:
    """Read ``holidays.toml``: ``[[year]]`` tables with ``year``, ``days_off`` ([{date, name}] or dates)
    and ``workdays`` (dates). A missing file means no overrides."""
    if not path.exists():
        return HolidayOverrides()
    doc = _read(path)
    years: set[int] = set()
    off: set[date] = set()
    work: set[date] = set()
    names: dict[date, str] = {}
    for i, y in enumerate(doc.get("year", [])):
        where = f"year[{i}]"
        year = _get(y, "year", path, int, where)
        if year in years:
            raise ConfigError(str(path), f"{where}.year", f"year {year} listed twice")
        years.add(year)
        for j, item in enumerate(y.get("days_off", [])):
            key = f"{where}.days_off[{j}]"
            text, name = (item.get("date", ""), item.get("name", "休息日")) if isinstance(item, dict) else (item, "休息日")
            d = _parse_day(text, path, key)
            if d.year != year:
                raise ConfigError(str(path), key, f"{d} is not in {year}")
            off.add(d)
            names[d] = str(name)
        for j, text in enumerate(y.get("workdays", [])):
            key = f"{where}.workdays[{j}]"
            d = _parse_day(text, path, key)
            if d.year != year:
                raise ConfigError(str(path), key, f"{d} is not in {year}")
            if d.weekday() < 5:
                raise ConfigError(str(path), key, f"{d} is not a weekend day (only weekend days can be 补班)")
            work.add(d)
    return HolidayOverrides(frozenset(years), frozenset(off), frozenset(work), names)


def _parse_day(text: object, path: Path, key: str) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError as exc:
        raise ConfigError(str(path), key, f"bad date {text!r}: {exc}") from exc


def _earliest_received(doc: Mapping[str, Any], path: Path) -> date:
    value = doc.get("earliest_received", IngestSettings.earliest_received)
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date) or not date(1950, 1, 1) <= value <= date(2100, 1, 1):
        raise ConfigError(str(path), "ingest.earliest_received", f"expected a date between 1950 and 2100, got {value!r}")
    return value


def load_forecast_settings(doc: Mapping[str, Any], path: Path) -> ForecastSettings:
    """Validate ``[forecast]`` of ``settings.toml`` (every key optional)."""
    default = ForecastSettings()
    values: dict[str, Any] = {}
    for name, kind in (("horizon_weeks", int), ("horizon_months", int), ("min_weekly_mean", float),
                       ("backtest_origins", int), ("prophet_min_weekly_mean", float),
                       ("ets_min_weekly_mean", float), ("workers", int)):
        if name not in doc:
            continue
        v = doc[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind is int and not isinstance(v, int)):
            raise ConfigError(str(path), f"forecast.{name}", f"expected {kind.__name__}, got {v!r}")
        if v < (0 if name.endswith("weekly_mean") else 1):
            raise ConfigError(str(path), f"forecast.{name}", f"out of range: {v!r}")
        values[name] = kind(v)
    if "levels" in doc:
        values["levels"] = _forecast_levels(doc["levels"], path)
    unknown = set(doc) - {f.name for f in fields(ForecastSettings)}
    if unknown:
        raise ConfigError(str(path), "forecast", f"unknown key(s): {', '.join(sorted(unknown))}")
    return replace(default, **values)


def load_detect_settings(doc: Mapping[str, Any], path: Path) -> DetectSettings:
    """Validate ``[detect]`` of ``settings.toml`` (every key optional)."""
    values: dict[str, Any] = {}
    for f in fields(DetectSettings):
        if f.name not in doc:
            continue
        v = doc[f.name]
        kind = int if f.type in (int, "int") else float
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind is int and not isinstance(v, int)):
            raise ConfigError(str(path), f"detect.{f.name}", f"expected {kind.__name__}, got {v!r}")
        values[f.name] = kind(v)
    unknown = set(doc) - {f.name for f in fields(DetectSettings)}
    if unknown:
        raise ConfigError(str(path), "detect", f"unknown key(s): {', '.join(sorted(unknown))}")
    merged = {f.name: values.get(f.name, f.default) for f in fields(DetectSettings)}
    problem = _detect_problem(merged)
    if problem:
        raise ConfigError(str(path), *problem)
    return DetectSettings(**merged)


def load_persons_settings(doc: Mapping[str, Any], path: Path) -> PersonsSettings:
    """Validate ``[persons]`` of ``settings.toml`` (every key optional)."""
    values: dict[str, Any] = {}
    known = {f.name: f for f in fields(PersonsSettings)}
    unknown = set(doc) - set(known)
    if unknown:
        raise ConfigError(str(path), "persons", f"unknown key(s): {', '.join(sorted(unknown))}")
    for name, v in doc.items():
        default = getattr(PersonsSettings(), name)
        kind = type(default)
        ok = (isinstance(v, str) if kind is str else isinstance(v, int) and not isinstance(v, bool)
              if kind is int else isinstance(v, (int, float)) and not isinstance(v, bool))
        if not ok:
            raise ConfigError(str(path), f"persons.{name}", f"expected {kind.__name__}, got {v!r}")
        values[name] = kind(v)
    out = replace(PersonsSettings(), **values)
    for name in ("match_threshold", "repeat_text_similarity", "group_growth_min_share"):
        if not 0 < getattr(out, name) <= 1:
            raise ConfigError(str(path), f"persons.{name}", f"out of range (0, 1]: {getattr(out, name)!r}")
    for name in ("group_min_size", "group_min_households", "group_growth_weeks", "group_growth_min_new",
                 "repeat_signal_min_earlier", "repeat_signal_days"):
        if getattr(out, name) < 1:
            raise ConfigError(str(path), f"persons.{name}", f"must be at least 1: {getattr(out, name)!r}")
    if out.group_escalation_level not in {"district", "city", "province", "national"}:
        raise ConfigError(str(path), "persons.group_escalation_level",
                          f"one of district, city, province, national, got {out.group_escalation_level!r}")
    return out


def _forecast_levels(value: Any, path: Path) -> tuple[tuple[str, str], ...]:
    """``["all:city", "top:district", ...]``; city and district levels must be whole (they are reconciled
    together), so a level may be left out only at the township level or at the leaf level."""
    cats, regs = ("all", "top", "leaf"), ("city", "district", "township")
    if not isinstance(value, list) or not value:
        raise ConfigError(str(path), "forecast.levels", "expected a list like [\"all:city\", \"top:district\"]")
    out = []
    for i, item in enumerate(value):
        cat, _, reg = str(item).partition(":")
        if cat not in cats or reg not in regs or reg == "township" and cat == "leaf":
            raise ConfigError(str(path), f"forecast.levels[{i}]",
                              f"{item!r}: expected CATEGORY:REGION with CATEGORY in {cats}, REGION in {regs} "
                              "(leaf:township is too sparse to build)")
        out.append((cat, reg))
    if ("all", "city") not in out:
        raise ConfigError(str(path), "forecast.levels", "\"all:city\" (the city total) is required")
    for cat in cats:  # city and district are reconciled together; townships are fitted to their district
        if ((cat, "city") in out) != ((cat, "district") in out):
            raise ConfigError(str(path), "forecast.levels",
                              f"\"{cat}:city\" and \"{cat}:district\" go together (they are reconciled together)")
        if (cat, "township") in out and (cat, "district") not in out:
            raise ConfigError(str(path), "forecast.levels", f"\"{cat}:township\" needs \"{cat}:district\"")
    return tuple(out)


def load_mapping(path: Path) -> SourceMapping:
    doc = _read(path)
    src = _get(doc, "source", path, dict)
    fields = _get(doc, "fields", path, dict)
    party = doc.get("party", {})
    for key in fields:
        if key not in CASE_FIELDS:
            raise ConfigError(str(path), f"fields.{key}", f"unknown field (known: {', '.join(CASE_FIELDS)})")
    for key in party:
        if key not in PARTY_FIELDS:
            raise ConfigError(str(path), f"party.{key}", f"unknown field (known: {', '.join(PARTY_FIELDS)})")
    for need in ("source_id", "received_at"):
        if not fields.get(need):
            raise ConfigError(str(path), f"fields.{need}", "required: list at least one header")
    values = doc.get("values", {})
    for vkey, table in values.items():
        if vkey not in VALUE_MAPS:
            raise ConfigError(str(path), f"values.{vkey}", "unknown value map")
        enum = VALUE_MAPS[vkey]
        for label, target in table.items():
            if enum is None:
                ok = isinstance(target, bool)
            else:
                ok = isinstance(target, str) and target in {e.value for e in enum}  # type: ignore[attr-defined]
            if not ok:
                raise ConfigError(str(path), f"values.{vkey}.{label}", f"invalid target {target!r}")
    try:
        channel = Channel(_get(src, "default_channel", path, str, "source"))
    except ValueError as exc:
        raise ConfigError(str(path), "source.default_channel", str(exc)) from exc
    kind = _get(src, "kind", path, str, "source")
    if kind not in ("hotline", "petition"):
        raise ConfigError(str(path), "source.kind", f"expected hotline or petition, got {kind!r}")
    return SourceMapping(
        name=_get(src, "name", path, str, "source"), label=src.get("label", ""), default_channel=channel,
        kind=kind, fields={k: tuple(v) for k, v in fields.items()},
        party={k: tuple(v) for k, v in party.items()}, values=values, file=str(path),
    )


def load_settings(config_dir: str | os.PathLike[str] | None = None) -> Settings:
    """Load and validate every file of a configuration directory."""
    root = resolve_config_dir(config_dir)
    if not root.is_dir():
        raise ConfigError(str(root), "-", "configuration directory not found")
    base = _read(root / "settings.toml")
    city = _get(base, "city", root / "settings.toml", dict)
    group = _get(base, "group", root / "settings.toml", dict)
    ing = base.get("ingest", {})
    regions = load_regions(root / "regions.toml")
    if city.get("code") and city["code"] != regions.root:
        raise ConfigError(str(root / "settings.toml"), "city.code",
                          f"{city['code']} is not the root of regions.toml ({regions.root})")
    taxonomy = load_taxonomy(root / "categories.toml")
    mappings = {}
    for f in sorted((root / "mappings").glob("*.toml")):
        m = load_mapping(f)
        if m.name in mappings:
            raise ConfigError(str(f), "source.name", f"duplicate source name {m.name}")
        mappings[m.name] = m
    return Settings(
        config_dir=root,
        city_name=_get(city, "name", root / "settings.toml", str, "city"),
        timezone=city.get("timezone", "Asia/Shanghai"),
        regions=regions,
        taxonomy=taxonomy,
        staff=load_staff(root / "staff.toml", regions),
        deadlines=load_deadlines(root / "deadlines.toml"),
        periods=load_periods(root / "calendar.toml"),
        mappings=mappings,
        group=GroupRules(
            min_headcount=_get(group, "min_headcount", root / "settings.toml", int, "group"),
            max_representatives=group.get("max_representatives", 5),
            bands=tuple(group.get("bands", ())),
        ),
        ingest=IngestSettings(int(ing.get("chunk_rows", 50000)), int(ing.get("max_field_chars", 20000)),
                              _earliest_received(ing, root / "settings.toml")),
        holidays=load_holiday_overrides(root / "holidays.toml"),
        forecast=load_forecast_settings(base.get("forecast", {}), root / "settings.toml"),
        detect=load_detect_settings(base.get("detect", {}), root / "settings.toml"),
        persons=load_persons_settings(base.get("persons", {}), root / "settings.toml"),
        grading=load_grading_rules(root / "grading.toml", taxonomy),
        ledger=load_ledger_settings(root / "grading.toml"),
    )
