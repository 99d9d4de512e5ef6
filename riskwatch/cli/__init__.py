"""The ``riskwatch`` command: thin commands over ``pipeline``. Only this module prints.

Global options ``--config DIR`` (or ``$RISKWATCH_CONFIG``) and ``--db URL`` (or
``$RISKWATCH_DATABASE_URL``; default ``sqlite:///var/riskwatch.db``) come before the command.
"""

from __future__ import annotations

import logging
import sys
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

import click
import pandas as pd
from sqlalchemy.orm import Session

from riskwatch import pipeline
from riskwatch.config import Settings, load_settings, resolve_database_url
from riskwatch.schema import CHANNEL_LABELS, LEVEL_LABELS, Channel, Level, RiskwatchError

DEMO_DIR = Path("var/demo")


class Context:
    def __init__(self, config_dir: str | None, db_url: str | None) -> None:
        self.config_dir = config_dir
        self.db_url = resolve_database_url(db_url)
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_dir)
        return self._settings

    @contextmanager
    def store(self) -> Iterator[Session]:
        """A session on the store migrated to the newest schema, with regions, categories and staff loaded
        from the configuration (what every command that writes starts from). The caller commits."""
        from riskwatch.store import upgrade_database
        from riskwatch.store.lock import writer_lock

        holder = "riskwatch " + " ".join(a for a in sys.argv[1:] if not a.startswith("-"))[:60]
        with writer_lock(self.db_url, holder.strip(), on_wait=lambda m: click.echo(f"等待 waiting: {m}", err=True)):
            upgrade_database(self.db_url)
            with self._session() as session:
                pipeline.prepare_store(session, self.settings)
                yield session

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session on a store whose schema is this riskwatch's (what commands that only read start
        from); a store without it is refused with what to run."""
        from riskwatch.store.engine import schema_revision

        current, head = schema_revision(self.db_url)
        if current != head:
            what = "has no riskwatch tables" if current is None else f"has schema {current}, not {head}"
            raise StoreNotReadyError(f"the store {_safe_url(self.db_url)} {what}: run `riskwatch db upgrade` "
                                     "(or `riskwatch ingest`, which creates it) first")
        with self._session() as session:
            yield session

    @contextmanager
    def _session(self) -> Iterator[Session]:
        from riskwatch.store import make_engine, make_session

        engine = make_engine(self.db_url)
        session = make_session(engine)
        try:
            yield session
        finally:
            session.close()
            engine.dispose()


pass_ctx = click.make_pass_decorator(Context)


class StoreNotReadyError(RiskwatchError):
    """The database has no riskwatch schema, or an older one."""


class RiskwatchGroup(click.Group):
    """The command group: a ``RiskwatchError`` no command handled ends as one line and exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except RiskwatchError as exc:
            _fail(exc)
            return None


def _fail(exc: Exception) -> None:
    click.echo(f"错误 error: {exc}", err=True)
    sys.exit(2)


@click.group(cls=RiskwatchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_dir", type=click.Path(file_okay=False), default=None,
              help="Configuration directory (default: $RISKWATCH_CONFIG or the bundled demo city).")
@click.option("--db", "db_url", default=None,
              help="Database URL (default: $RISKWATCH_DATABASE_URL or sqlite:///var/riskwatch.db).")
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
@click.pass_context
def cli(ctx: click.Context, config_dir: str | None, db_url: str | None, verbose: bool) -> None:
    """riskwatch: risk early warning for petition (信访) and hotline (12345) work."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = Context(config_dir, db_url)


@cli.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Create or migrate the database schema to the newest version (Alembic)."""
    with ctx.store() as session:
        session.commit()
    click.echo(f"database ready: {_safe_url(ctx.db_url)}")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--source", default=None, help="Mapping name (config/mappings/NAME.toml); detected when omitted.")
@pass_ctx
def ingest(ctx: Context, paths: tuple[Path, ...], source: str | None) -> None:
    """Read CSV/XLSX exports (files or folders) into the store; bad rows are quarantined.

    Exits non-zero only when a file cannot be read at all.
    """
    failed = _ingest(ctx, list(paths), source)
    if failed:
        sys.exit(1)


def _ingest(ctx: Context, paths: list[Path], source: str | None) -> int:
    from riskwatch.ingest.refs import build_refs

    settings = ctx.settings
    failed = 0
    totals = pipeline.FileSummary(file="合计 total")
    with ctx.store() as session:
        refs = build_refs(settings)
        session.commit()
        found = pipeline.expand_paths(paths)
        for path, why in found.ignored + found.other:
            click.echo(f"跳过 skipped: {path}: {why}")
        for path, why in found.unreadable:
            failed += 1
            click.echo(f"无法读取 cannot read: {path}: {why}", err=True)
        for path in found.files:
            try:
                s = pipeline.ingest_file(session, settings, path, datetime.now(), source, refs)
                session.commit()
            except RiskwatchError as exc:
                session.rollback()
                failed += 1
                click.echo(f"无法读取 cannot read: {exc}", err=True)
                continue
            _echo_summary(s)
            for k in ("read", "new", "updated", "unchanged", "older", "quarantined", "blank"):
                setattr(totals, k, getattr(totals, k) + getattr(s, k))
            totals.notes.update(s.notes)
    click.echo(f"{'合计 total':<40} read {totals.read}  new {totals.new}  updated {totals.updated}  "
               f"unchanged {totals.unchanged}  older {totals.older}  quarantined {totals.quarantined}  "
               f"blank {totals.blank}")
    for note, n in sorted(totals.notes.items(), key=lambda kv: -kv[1])[:12]:
        click.echo(f"    note  {n:>7}  {note}")
    if failed:
        click.echo(f"{failed} file(s) could not be read", err=True)
    return failed


def _echo_summary(s: pipeline.FileSummary) -> None:
    click.echo(f"{Path(s.file).name:<40} read {s.read}  new {s.new}  updated {s.updated}  "
               f"unchanged {s.unchanged}  older {s.older}  quarantined {s.quarantined}  blank {s.blank}  "
               f"[{s.source}, {s.encoding}]")
    for problem in s.problems:
        click.echo(f"    quarantined  {problem}")
    if s.quarantined > len(s.problems):
        click.echo(f"    ... {s.quarantined - len(s.problems)} more: riskwatch quarantine")


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the exports and ground truth into.")
@click.option("--years", type=click.IntRange(1, 30), default=5, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last day of the history (default: the end of last month).")
@click.option("--scale", type=click.FloatRange(0, 20, min_open=True), default=1.0, show_default=True,
              help="Volume multiplier.")
@pass_ctx
def synth(ctx: Context, out: Path, years: int, seed: int, end: datetime | None, scale: float) -> None:
    """Write a synthetic city's exports (both sources, both encodings, XLSX) and its ground truth."""
    from riskwatch.synth import generate_city

    end_day = end.date() if end else _last_month_end(date.today())
    summary = generate_city(ctx.settings, out, years=years, seed=seed, end=end_day, scale=scale)
    click.echo(f"synthetic city written to {out}: {summary}")


def _last_month_end(today: date) -> date:
    return today.replace(day=1) - timedelta(days=1)


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DEMO_DIR, show_default=True)
@click.option("--years", type=click.IntRange(1, 30), default=5, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--scale", type=click.FloatRange(0, 20, min_open=True), default=1.0, show_default=True)
@pass_ctx
def demo(ctx: Context, out: Path, years: int, seed: int, scale: float) -> None:
    """Create the synthetic city, ingest it into the store, print the last month's figures, forecast
    the coming weeks, resolve persons (top repeat petitioners and largest groups, masked), show the
    signals of the latest week, grade them into the risk ledger and write the leaders' lists."""
    from riskwatch.synth import generate_city

    clock = _StepClock()
    end_day = _last_month_end(date.today())
    click.echo(f"1/7 synthesizing {years} years of {ctx.settings.city_name} up to {end_day} into {out} ...")
    summary = generate_city(ctx.settings, out, years=years, seed=seed, end=end_day, scale=scale)
    click.echo(f"    {summary}{clock.lap()}")
    click.echo(f"2/7 ingesting into {_safe_url(ctx.db_url)} ...")
    sources = [out / name for name in sorted(ctx.settings.mappings) if (out / name).is_dir()]
    updates = out / "updates"
    failed = _ingest(ctx, sources + ([updates] if updates.is_dir() else []), None)
    click.echo(clock.lap().strip())
    month = pd.Period(end_day, "M")
    click.echo(f"3/7 figures of {month}:")
    _print_stats(ctx, month, pd.Timestamp(end_day) + pd.Timedelta(hours=23, minutes=59, seconds=59))
    click.echo(clock.lap().strip())
    click.echo("\n4/7 forecasting every category x area series, weekly ...")
    as_of = datetime.combine(end_day + timedelta(days=1), datetime.min.time())
    forecast = _forecast_store(ctx, as_of, "W", None, "wls", None)
    _print_forecast_digest(ctx, forecast)
    click.echo(clock.lap().strip())
    click.echo("\n5/7 resolving persons, repeat petitions and groups ...")
    _persons_store(ctx, full=True)
    click.echo(clock.lap().strip())
    click.echo(f"\n6/7 detecting spikes and rises, week by week over the last {DEMO_DETECT_WEEKS} weeks "
               "(signals carry over from one week to the next) ...")
    _demo_detect(ctx, pd.Timestamp(as_of))
    click.echo(clock.lap().strip())
    click.echo("\n7/7 the risk ledger: grades, owners, deadlines, and the leaders' lists ...")
    lists = _demo_ledger(ctx, as_of)
    click.echo(clock.lap().strip())
    _print_demo_outputs(ctx, out, forecast.run_id, clock.total(), lists)
    if failed:
        sys.exit(1)


class _StepClock:
    """Wall time of the demo's steps, for the user to see where the minutes go."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()

    def lap(self) -> str:
        now = time.perf_counter()
        elapsed, self.last = now - self.last, now
        return f"  ({elapsed:.0f} s)"

    def total(self) -> float:
        return time.perf_counter() - self.start


def _demo_ledger(ctx: Context, as_of: datetime) -> Path:
    """The ledger of the demo's last week and its case-assignment lists; returns the lists' folder."""
    from riskwatch.cli.ledger import _echo_counts
    from riskwatch.pipeline.ledger import run_ledger, write_lists

    folder = Path("reports") / "lists" / f"{as_of:%Y-%m-%d}"
    with ctx.store() as session:
        summary = run_ledger(session, ctx.settings, as_of)
        session.commit()
        paths = write_lists(session, ctx.settings, folder, as_of)
    click.echo(f"    {len(summary.items)} risk items from {summary.signals} open signals "
               "(红色 confirmed and handed to county leaders at once; the others wait for review):")
    _echo_counts(summary.items)
    click.echo(f"    {len(paths) // 2} case-assignment lists (领导包案清单) in {folder.resolve()}/")
    return folder


def _print_demo_outputs(ctx: Context, out: Path, forecast_run: int, seconds: float, lists: Path) -> None:
    """Where everything the demo made went, and the commands that open it."""
    files = sorted(p for p in out.rglob("*") if p.is_file() and "truth" not in p.relative_to(out).parts)
    truth = out / "truth"
    click.echo(f"\n完成 done in {seconds / 60:.1f} min. 输出 outputs:")
    click.echo(f"  exports        {out.resolve()}/  ({len(files)} CSV / XLSX files, as the offices export them)")
    if truth.is_dir():
        click.echo(f"  ground truth   {truth.resolve()}/  (what the benchmarks score against)")
    click.echo(f"  store          {_store_location(ctx.db_url)}  (cases, quarantine, forecast run {forecast_run}, "
               "persons, signals, the risk ledger)")
    click.echo(f"  lists          {lists.resolve()}/  (领导包案清单, XLSX to print and CSV)")
    click.echo("  look further   riskwatch items --grade red | riskwatch items show KEY | riskwatch signals | "
               f"riskwatch persons show PERSON_ID | riskwatch forecast --show W:*:{ctx.settings.regions.root} "
               "--chart city.png")


def _store_location(url: str) -> str:
    """A SQLite store's absolute file path; any other store's URL without its password."""
    from riskwatch.store.engine import sqlite_file

    db = sqlite_file(url)
    return str(db) if db is not None else _safe_url(url)


DEMO_DETECT_WEEKS = 4


def _demo_detect(ctx: Context, as_of: pd.Timestamp) -> None:
    """Weekly detect runs as of the last Mondays up to ``as_of``; the last one's signals are printed."""
    now = datetime.now().replace(microsecond=0)
    last_monday = as_of.normalize() - pd.Timedelta(days=as_of.weekday())
    mondays = [last_monday - pd.Timedelta(weeks=k) for k in range(DEMO_DETECT_WEEKS - 1, -1, -1)]
    with ctx.session() as session:
        cases = pipeline.detect_cases(session, ctx.settings, mondays[-1])
        for monday in mondays:
            summary = pipeline.run_detect(session, ctx.settings, monday, now, cases=cases)
            session.commit()
    click.echo(f"detect run {summary.run_id}: week of {summary.period:%Y-%m-%d}, {summary.series} series "
               f"({summary.scored} scored, {summary.insufficient} with too little history)")
    _print_signals(summary.states, summary.period, "W")


def _print_forecast_digest(ctx: Context, summary: pipeline.ForecastSummary, weeks: int = 4) -> None:
    """The city's next weeks, and the categories forecast to rise most against the last weeks."""
    from riskwatch.store.forecasts import load_forecast_run

    settings = ctx.settings
    freq, hist = summary.freq, summary.history
    with ctx.session() as session:
        got = load_forecast_run(session, freq, summary.as_of)
    if got is None:
        return
    _, series, values, _ = got
    city = f"{freq}:*:{settings.regions.root}"
    click.echo(f"\n未来 {weeks} 周受理量预测（全市，80% 区间）：")
    for r in values[values["series_id"] == city].head(weeks).itertuples():
        click.echo(f"  {r.ds:%Y-%m-%d} 当周  {r.yhat:7.0f} 件  （{r.yhat_lower_80:.0f}–{r.yhat_upper_80:.0f}）")
    leaves = series[(series["category_level"] == "leaf") & (series["region_level"] == "city")]
    ahead = values[values["series_id"].isin(leaves["series_id"])].groupby("series_id").head(weeks) \
        .groupby("series_id")["yhat"].sum()
    before = hist[hist["series_id"].isin(leaves["series_id"])].groupby("series_id").tail(weeks) \
        .groupby("series_id")["y"].sum()
    change = ((ahead - before) / before.where(before >= 20)).dropna().sort_values(ascending=False)
    if change.empty:
        return
    labels = leaves.set_index("series_id")["label"]
    click.echo(f"预计上升最多的类别（未来 {weeks} 周对比最近 {weeks} 周）：")
    for sid, rate in change.head(5).items():
        click.echo(f"  {labels[sid].split(' · ')[0]:<16} {before[sid]:5.0f} → {ahead[sid]:5.0f} 件 "
                   f"（{rate:+.0%}）")


@cli.command()
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Count what was known at the end of this day (default: the month's end).")
@click.option("--level", "category_level", type=click.Choice(["1", "2"]), default="1", show_default=True,
              help="Category level: 1 top level, 2 leaf.")
@pass_ctx
def stats(ctx: Context, month: str, as_of: datetime | None, category_level: str) -> None:
    """Print a month's figures: volume by channel and category (同比/环比), 按期办结率, groups,
    escalations, returned and overdue work orders."""
    try:
        period = pd.Period(month, "M")
    except ValueError:
        _fail(ValueError(f"--month {month!r}: expected YYYY-MM"))
        return
    cutoff = pd.Timestamp(as_of) + pd.Timedelta(hours=23, minutes=59, seconds=59) if as_of else period.end_time
    _print_stats(ctx, period, cutoff, int(category_level))


def _print_stats(ctx: Context, month: pd.Period, as_of: pd.Timestamp, category_level: int = 1) -> None:
    from riskwatch.indicators import pct

    settings = ctx.settings
    with ctx.session() as session:
        st = pipeline.month_stats(session, settings, month, as_of, category_level)
    yoy = (st.total - st.total_prev_year) / st.total_prev_year if st.total_prev_year else float("nan")
    mom = (st.total - st.total_prev_month) / st.total_prev_month if st.total_prev_month else float("nan")
    click.echo(f"{settings.city_name} {month.year}年{month.month}月 信访与热线数据（截至 {as_of:%Y-%m-%d}）")
    click.echo(f"受理量 {st.total} 件，同比 {pct(yoy)}，环比 {pct(mom)}")
    click.echo("\n按渠道：")
    header = _row("", "本月", "上月", "去年同期", "环比", "同比")
    click.echo(header)
    for r in st.by_channel.itertuples():
        label = CHANNEL_LABELS.get(Channel(r.key), r.key) if r.key in Channel._value2member_map_ else r.key
        click.echo(_row(label, r.count, r.prev_month, r.prev_year, pct(r.mom), pct(r.yoy)))
    click.echo("\n按问题类别：")
    click.echo(header)
    tax = settings.taxonomy
    for r in st.by_category.head(15).itertuples():
        label = tax.label(r.key) if r.key in tax.categories else r.key
        click.echo(_row(label, r.count, r.prev_month, r.prev_year, pct(r.mom), pct(r.yoy)))

    def rate(name: str, r: object) -> None:
        num, den = r.numerator, r.denominator  # type: ignore[attr-defined]
        value = f"{num / den * 100:.1f}%" if den else "—"
        click.echo(f"{name} {value}（{num}/{den}）")

    click.echo("")
    rate("按期办结率", st.on_time)
    rate("实际解决率", st.resolved)
    rate("群众满意率", st.satisfied)
    if st.repeats is not None:
        rate("重复信访占比", st.repeats)
    else:
        click.echo("重复信访占比 —（尚未运行 riskwatch persons）")
    click.echo(f"群体访 {st.group_cases} 件 {st.group_headcount} 人次")
    esc = "，".join(f"{LEVEL_LABELS[Level(r.level)]} {r.cases}" for r in st.escalations.itertuples())
    click.echo(f"到达层级：{esc}")
    click.echo(f"退单工单 {st.returned_orders} 件（退单 {st.returns} 次）；"
               f"逾期未办结 {st.overdue_open} 件，本月逾期办结 {st.overdue_closed} 件")


@cli.command()
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%d %H:%M"]), default=None,
              help="Forecast as known at this time (default: now). A past date uses only what was entered by then.")
@click.option("--freq", type=click.Choice(["D", "W", "M"]), default="W", show_default=True,
              help="Period: week (Monday start), month, or day (--series only).")
@click.option("--horizon", type=int, default=None, help="Periods ahead (default from settings.toml [forecast]).")
@click.option("--series", "series_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Standalone: forecast this date,count file instead of the store.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Standalone: where to write the forecast CSV.")
@click.option("--reconcile", "method", type=click.Choice(["wls", "mint_shrink", "wls_struct", "ols", "none"]),
              default="wls", show_default=True, help="How cells are made to add up to their parents.")
@click.option("--workers", type=int, default=None, help="Worker processes (default from settings.toml).")
@click.option("--show", "show_id", default=None,
              help="Print the stored forecast and backtest scores of one series (e.g. W:*:339900) and stop.")
@click.option("--chart", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --show or --series: draw the history, forecast and bands to this PNG/PDF.")
@pass_ctx
def forecast(ctx: Context, as_of: datetime | None, freq: str, horizon: int | None, series_file: Path | None,
             output: Path | None, method: str, workers: int | None, show_id: str | None,
             chart: Path | None) -> None:
    """Forecast case volumes of every category x area series with 80%/95% intervals, the model of each
    chosen by rolling-origin backtest; or (--series IN --output OUT) forecast one date,count file."""
    try:
        if series_file is not None:
            _forecast_file(ctx, series_file, output, freq, horizon, chart)
        elif show_id is not None:
            _show_forecast(ctx, show_id, freq, as_of, chart)
        else:
            _forecast_store(ctx, as_of, freq, horizon, method, workers)
    except (RiskwatchError, ValueError) as exc:
        _fail(exc)


def _forecast_file(ctx: Context, path: Path, output: Path | None, freq: str, horizon: int | None,
                   chart: Path | None) -> None:
    if output is None:
        raise ValueError("--series needs --output OUT.csv")
    out, notes, regular = pipeline.forecast_file(ctx.settings, path, output, freq, horizon or 0)
    for note in notes:
        click.echo(f"{path}: {note}", err=True)
    click.echo(f"{len(out)} periods forecast by {out['model'].iloc[0]} -> {output}")
    if chart is not None:
        from riskwatch.report.charts import plot_forecast

        hist = pd.DataFrame({"ds": regular.ds, "y": regular.y})
        fc = out.rename(columns={"date": "ds"}).assign(ds=lambda f: pd.to_datetime(f["ds"]))
        plot_forecast(hist, fc, f"{path.stem} 预测", freq=freq, path=chart)
        click.echo(f"chart -> {chart}")


def _forecast_store(ctx: Context, as_of: datetime | None, freq: str, horizon: int | None, method: str,
                    workers: int | None) -> pipeline.ForecastSummary:
    from tqdm import tqdm

    if freq == "D":
        raise ValueError("--freq D is for --series files; the store is forecast by week (W) or month (M)")
    now = datetime.now().replace(microsecond=0)
    cutoff = pd.Timestamp(as_of or now)
    with ctx.store() as session:
        with tqdm(desc="forecast", unit="series", disable=None, file=sys.stderr) as bar:
            summary = pipeline.run_forecast(session, ctx.settings, cutoff, freq, now, horizon, workers, method,
                                            progress=bar.update)
        session.commit()
    if summary.data_end is not None:
        click.echo(f"注意 note: no case received after {summary.data_end:%Y-%m-%d %H:%M}: the history ends there, "
                   f"not at {cutoff:%Y-%m-%d}")
    click.echo(f"forecast run {summary.run_id}: {summary.series} series, freq {freq}, as of {cutoff:%Y-%m-%d %H:%M}, "
               f"history {summary.history_start:%Y-%m-%d} .. {summary.history_end:%Y-%m-%d}")
    click.echo("models chosen: " + ", ".join(f"{m} {n}" for m, n in sorted(summary.models.items(),
                                                                             key=lambda kv: -kv[1])))
    if summary.fallbacks:
        click.echo(f"{summary.fallbacks} series fell back to another model (see the note of each)")
    return summary


def _show_forecast(ctx: Context, series_id: str, freq: str, as_of: datetime | None, chart: Path | None) -> None:
    from riskwatch.store.forecasts import load_forecast_run

    with ctx.session() as session:
        got = load_forecast_run(session, freq, as_of)
        if got is None:
            raise ValueError(f"no stored forecast run for freq {freq}" + (f" as of {as_of}" if as_of else "")
                             + ": run `riskwatch forecast` first")
        run, series, values, scores = got
        info = series[series["series_id"] == series_id]
        if info.empty:
            raise ValueError(f"no series {series_id!r} in run {run['id']} (ids look like {series['series_id'].iloc[0]})")
        row = info.iloc[0]
        click.echo(f"{row['label']}（{series_id}）预测，截至 {run['as_of']:%Y-%m-%d}；模型 {row['model']}")
        if row["note"]:
            click.echo(f"说明 note: {row['note']}")
        v = values[values["series_id"] == series_id]
        click.echo(_row("周期", "预测值", "80%区间", "95%区间", "模型原值", "", width=14))
        for r in v.itertuples():
            click.echo(_row(f"{r.ds:%Y-%m-%d}", f"{r.yhat:.1f}", f"{r.yhat_lower_80:.0f}-{r.yhat_upper_80:.0f}",
                            f"{r.yhat_lower_95:.0f}-{r.yhat_upper_95:.0f}", f"{r.yhat_base:.1f}", "", width=14))
        click.echo("\n回测 backtest（MAE；相对季节朴素 rel. to seasonal naive；区间覆盖率 coverage）：")
        for r in scores[scores["series_id"] == series_id].itertuples():
            mark = "*" if r.selected else " "
            click.echo(f" {mark} {r.model:<15} MAE {r.mae:7.2f}  rel {r.rel_mae:5.2f}  MASE {r.mase:5.2f}  "
                       f"80% {r.cover_80:4.0%}  95% {r.cover_95:4.0%}  points {r.points}")
        if chart is not None:
            from riskwatch.report.charts import plot_forecast

            hist, _, _, _ = pipeline.build_store_series(session, ctx.settings, pd.Timestamp(run["as_of"]), freq)
            hist = hist[hist["series_id"] == series_id]
            plot_forecast(hist, v.assign(model=row["model"]), f"{row['label']} 受理量预测", freq=freq, path=chart)
            click.echo(f"chart -> {chart}")


@cli.command()
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%d %H:%M"]), default=None,
              help="Detect as known at this time (default: now): the last complete week (month) before it "
                   "is scored.")
@click.option("--series", "series_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Standalone: score every period of this date,count file instead of the store.")
@click.option("--freq", type=click.Choice(["D", "W", "M"]), default="W", show_default=True,
              help="Week (Monday start) or month; D for --series files only.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Standalone: where to write date,count,expected,upper,score,alarm,detector,state.")
@pass_ctx
def detect(ctx: Context, as_of: datetime | None, series_file: Path | None, freq: str, output: Path | None) -> None:
    """Score the newest week of every category x area series for spikes (Farrington-flexible, or EARS C2
    on short histories) and slow rises (CUSUM), update the signals (with the case signals: escalation,
    overdue, returned, dissatisfied) and print them; or (--series IN --output OUT) score one file."""
    try:
        if series_file is not None:
            _detect_file(series_file, freq, output)
        else:
            _detect_store(ctx, as_of, freq)
    except (RiskwatchError, ValueError) as exc:
        _fail(exc)


def _detect_file(series_file: Path, freq: str, output: Path | None) -> None:
    if output is None:
        raise ValueError("--series needs --output OUT.csv")
    out, notes = pipeline.detect_file(series_file, output, freq)
    for note in notes:
        click.echo(f"{series_file}: {note}", err=True)
    states = out["state"].value_counts()
    click.echo(f"{len(out)} periods: {int(out['alarm'].sum())} alarms, {int(states.get('scored', 0))} scored, "
               f"{int(states.get('insufficient', 0))} with too little history, {int(states.get('missing', 0))} "
               f"missing -> {output}")


def _detect_store(ctx: Context, as_of: datetime | None, freq: str) -> pipeline.DetectSummary:
    if freq == "D":
        raise ValueError("--freq D is for --series files; the store is scored by week (W) or month (M)")
    now = datetime.now().replace(microsecond=0)
    cutoff = pd.Timestamp(as_of or now)
    with ctx.store() as session:
        summary = pipeline.run_detect(session, ctx.settings, cutoff, now, freq)
        session.commit()
    if summary.data_end is not None:
        click.echo(f"注意 note: no case received after {summary.data_end:%Y-%m-%d %H:%M}: the last complete "
                   f"{PERIOD_NAMES[freq]} before that is scored")
    click.echo(f"detect run {summary.run_id}: {PERIOD_NAMES[freq]} of {summary.period:%Y-%m-%d}, {summary.series} "
               f"series ({summary.scored} scored, {summary.insufficient} with too little history), "
               f"as of {cutoff:%Y-%m-%d %H:%M}")
    _print_signals(summary.states, summary.period, freq)
    return summary


STATUS_TAGS = {"opened": "新", "ongoing": "续", "closed": "闭"}
VOLUME_KINDS = ("spike", "rise", "level_shift")
GROUP_KINDS = ("group_growth", "group_spread", "group_escalation")
PERIOD_NAMES = {"W": "week", "M": "month"}
LABEL_TAGS = {"batch_entry": "疑似集中补录", "one_source": "单一来源", "one_unit": "单一承办单位"}


def _print_signals(states: pd.DataFrame, period: datetime, freq: str, limit: int = 15) -> None:
    """The week's signals as an analyst reads them: volume signals first (new, then continuing), then the
    case signals by kind; silenced signals are counted, not shown."""
    from riskwatch.schema import SIGNAL_KIND_LABELS, SignalKind

    live = states.loc[states["status"] != "closed"]
    muted = live.loc[live["silenced"] != ""]
    live = live.loc[live["silenced"] == ""]
    is_volume = states["kind"].isin(VOLUME_KINDS)

    this = "本周" if freq == "W" else "本月"

    def counts(part: pd.DataFrame) -> str:
        shown = part.loc[part["silenced"] == ""]
        return (f"新增 {int((shown['status'] == 'opened').sum())}，持续 {int((shown['status'] == 'ongoing').sum())}，"
                f"{this}关闭 {int((part['status'] == 'closed').sum())}")

    when = f"{period:%Y-%m-%d} 当周" if freq == "W" else f"{period.year} 年 {period.month} 月"
    click.echo(f"\n预警信号（{when}）：数量异常 {counts(states.loc[is_volume])}；个案 {counts(states.loc[~is_volume])}；"
               f"静默 {len(muted)}")
    volume = live.loc[live["kind"].isin(VOLUME_KINDS)].copy()
    volume["_new"] = volume["status"] != "opened"
    volume = volume.sort_values(["_new", "p_value", "signal_key"], na_position="last")
    if len(volume):
        click.echo("数量异常：")
    for row in volume.head(limit).itertuples():
        kind = SIGNAL_KIND_LABELS[SignalKind(row.kind)]
        tag = f" 〔{LABEL_TAGS[row.label]}〕" if row.label in LABEL_TAGS else ""
        click.echo(f"  [{STATUS_TAGS[row.status]}·{kind}]{tag} {row.sentence}")
    if len(volume) > limit:
        click.echo(f"  …… 另有 {len(volume) - limit} 条（riskwatch signals 查看全部）")
    cases = live.loc[~live["kind"].isin(VOLUME_KINDS)]
    if len(cases):
        click.echo("个案预警：" + "，".join(
            f"{SIGNAL_KIND_LABELS[SignalKind(k)]} {len(g)}（新 {int((g['status'] == 'opened').sum())}）"
            for k, g in cases.groupby("kind", sort=False)))
        for row in cases.loc[(cases["kind"] == "escalation") & (cases["status"] == "opened")].head(5).itertuples():
            click.echo(f"  [新·越级上行] {row.sentence}")
        for row in cases.loc[cases["kind"].isin(GROUP_KINDS)].head(limit).itertuples():
            click.echo(f"  [{STATUS_TAGS[row.status]}·{SIGNAL_KIND_LABELS[SignalKind(row.kind)]}] {row.sentence}")


@cli.group(invoke_without_command=True)
@click.option("--kind", default=None, help="Only this kind (spike, rise, level_shift, escalation, overdue, ...).")
@click.option("--all", "show_all", is_flag=True, help="Also closed and silenced signals.")
@click.option("--freq", type=click.Choice(["W", "M"]), default="W", show_default=True,
              help="Of the weekly or the monthly detect runs.")
@pass_ctx
@click.pass_context
def signals(click_ctx: click.Context, ctx: Context, kind: str | None, show_all: bool, freq: str) -> None:
    """List the signals of the latest detect run; `signals silence` mutes some for a while."""
    if click_ctx.invoked_subcommand is not None:
        return
    from riskwatch.store.detect import load_states

    with ctx.session() as session:
        run, states = load_states(session, freq)
    if run is None:
        _fail(ValueError(f"no detect run of freq {freq} in the store yet: run `riskwatch detect` first"))
        return
    if not show_all:
        states = states.loc[(states["status"] != "closed") & (states["silenced"] == "")]
    if kind:
        states = states.loc[states["kind"] == kind]
    click.echo(f"detect run {run['id']}: {PERIOD_NAMES[freq]} of {run['period']:%Y-%m-%d}, {len(states)} signals")
    for row in states.itertuples():
        muted = f" 〔静默：{row.silenced}〕" if row.silenced else ""
        click.echo(f"  {row.status:<8} {row.signal_key:<40} 自 {row.opened:%Y-%m-%d}{muted} {row.sentence}")


@signals.command("silence")
@click.argument("pattern")
@click.option("--reason", required=True, help="Why (recorded with the silence).")
@click.option("--until", "until", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%d %H:%M"]), required=True,
              help="When the silence expires.")
@click.option("--by", "created_by", default="analyst", show_default=True, help="Who decided.")
@click.option("--from", "starts_at", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%d %H:%M"]), default=None,
              help="When it starts (default: now).")
@pass_ctx
def signals_silence(ctx: Context, pattern: str, reason: str, until: datetime, created_by: str,
                    starts_at: datetime | None) -> None:
    """Mute the signals whose key matches PATTERN (a key such as spike:W:0101:339901, or a shell pattern
    such as 'overdue:hotline_12345:*') until --until; the next detect run marks them silenced."""
    from riskwatch.store.detect import add_silence

    start = starts_at or datetime.now().replace(microsecond=0)
    try:
        with ctx.store() as session:
            sid = add_silence(session, pattern, reason, created_by, start, until)
            session.commit()
    except ValueError as exc:
        _fail(exc)
        return
    click.echo(f"silence {sid}: {pattern} muted {start:%Y-%m-%d %H:%M} .. {until:%Y-%m-%d %H:%M} ({reason})")


@signals.command("silences")
@pass_ctx
def signals_silences(ctx: Context) -> None:
    """Every silence recorded: pattern, reason, who, from, until."""
    from riskwatch.store.detect import load_silences

    with ctx.session() as session:
        table = load_silences(session)
    for r in table.itertuples():
        click.echo(f"  {r.id:>4} {r.pattern:<40} {r.starts_at:%Y-%m-%d %H:%M} .. {r.expires_at:%Y-%m-%d %H:%M} "
                   f"{r.created_by}: {r.reason}")
    click.echo(f"{len(table)} silences")


@cli.group(invoke_without_command=True)
@click.option("--full", is_flag=True, help="Re-fit the model and re-resolve every record (default: only the new "
                                           "and changed records are matched against the known persons).")
@pass_ctx
@click.pass_context
def persons(click_ctx: click.Context, ctx: Context, full: bool) -> None:
    """Resolve every recorded party into a person, find repeat petitions and organised groups, and list the
    top repeat petitioners and the largest groups (personal data masked)."""
    if click_ctx.invoked_subcommand is not None:
        return
    try:
        _persons_store(ctx, full)
    except (RiskwatchError, ValueError) as exc:
        _fail(exc)


def _persons_store(ctx: Context, full: bool) -> pipeline.PersonsSummary:
    now = datetime.now().replace(microsecond=0)
    with ctx.store() as session:
        s = pipeline.run_persons(session, ctx.settings, now, full=full)
        session.commit()
    if s.mode == "unchanged":
        since = f" ({s.unchanged_since:%Y-%m-%d %H:%M})" if s.unchanged_since else ""
        click.echo(f"无新增 nothing new since persons run {s.run_id}{since}: {s.records} recorded parties, "
                   f"{s.persons} persons, {s.repeats} repeat petitions, {s.groups} groups, as stored "
                   "(--full re-resolves anyway)")
        return s
    click.echo(f"persons run {s.run_id} ({s.mode}): {s.records} recorded parties, {s.resolved} resolved, "
               f"{s.removed} removed, {s.persons} persons, {s.merged} merged; {s.repeats} repeat petitions; "
               f"{s.groups} groups")
    _print_persons(ctx, s)
    return s


def _print_persons(ctx: Context, s: pipeline.PersonsSummary) -> None:
    click.echo("重复信访人（前 10，按重复件数） top repeat petitioners:")
    for r in s.top_repeaters.itertuples():
        click.echo(f"  {r.person_id}  {r.name:<4} {r.cases:>4} 件，重复 {r.repeats:>4} 件，{r.matters} 个事项，"
                   f"最近 {pd.Timestamp(r.last_received):%Y-%m-%d}")
    share = s.repeat_share
    if len(share):
        months = sorted(share["period"].unique())[-6:]
        city = share.loc[(share["region_code"] == "") & share["period"].isin(months)]
        click.echo("重复信访占比 repeat share（全市，近 6 个月）：" + "，".join(
            f"{pd.Timestamp(r.period):%Y-%m} {r.share:.1%}" for r in city.itertuples()))
        last = share.loc[(share["period"] == months[-1]) & (share["region_code"] != "")]
        names = ctx.settings.regions.regions
        click.echo(f"  {pd.Timestamp(months[-1]):%Y-%m} 各区县：" + "，".join(
            f"{names[r.region_code].name if r.region_code in names else r.region_code} {r.share:.1%}"
            for r in last.sort_values("share", ascending=False).itertuples()))
    click.echo("最大的群体 largest groups:")
    regions = ctx.settings.regions.regions
    for g in s.largest_groups.itertuples():
        towns = "、".join(regions[t].name if t in regions else t for t in g.townships[:3])
        more = f"等 {len(g.townships)} 个镇街" if len(g.townships) > 3 else ""
        level = LEVEL_LABELS[Level(g.max_level)] if g.max_level in Level._value2member_map_ else "—"
        cat = ctx.settings.taxonomy.label(g.category_code) if g.category_code in ctx.settings.taxonomy.categories \
            else (g.category_code or "")
        click.echo(f"  {g.group_id}  {g.size:>3} 人，{g.cases:>3} 件（群体访 {g.group_cases}），最高 {level}，"
                   f"{cat} · {towns}{more}")


@persons.command("resolve")
@click.option("--input", "in_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="CSV or XLSX with record_id,name,id_number,phone,address (district, received_at, category "
                   "used when present).")
@click.option("--output", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write record_id,person_id.")
@click.option("--with-confidence", is_flag=True, help="Add a confidence column (0..1).")
def persons_resolve(in_path: Path, out_path: Path, with_confidence: bool) -> None:
    """Standalone: resolve the parties of a file into persons, without the store."""
    try:
        records, found = pipeline.resolve_file(in_path, out_path, with_confidence)
    except (RiskwatchError, ValueError) as exc:
        _fail(exc)
        return
    click.echo(f"{records} records -> {found} persons -> {out_path}")


@persons.command("show")
@click.argument("person_id")
@pass_ctx
def persons_show(ctx: Context, person_id: str) -> None:
    """One person's profile: cases by channel and matter, escalations, sensitive periods, open items,
    groups (personal data masked)."""
    now = pd.Timestamp(datetime.now().replace(microsecond=0))
    try:
        with ctx.session() as session:
            p = pipeline.person_profile(session, ctx.settings, person_id, now)
    except (RiskwatchError, ValueError, KeyError) as exc:
        _fail(ValueError(str(exc).strip("'\"")))
        return
    tax, regions = ctx.settings.taxonomy, ctx.settings.regions.regions
    click.echo(f"{p.person_id}  {p.name}  {p.records} 条登记记录（置信度 {p.confidence:.2f}）")
    click.echo(f"  身份证 {'、'.join(p.id_numbers) or '—'}；电话 {'、'.join(p.phones) or '—'}；"
               f"地址 {'、'.join(p.addresses) or '—'}")
    channels = "，".join(f"{CHANNEL_LABELS.get(Channel(c), c) if c in Channel._value2member_map_ else c} {n}"
                        for c, n in p.by_channel.items())
    level = LEVEL_LABELS[Level(p.highest_level)] if p.highest_level else "—"
    click.echo(f"  {len(p.cases)} 件（{channels}），重复 {int(p.cases['is_repeat'].sum())} 件，最高到{level}，"
               f"省级及以上 {p.escalations} 件，未办结 {p.open_items} 件")
    for m in p.by_matter.head(5).itertuples():
        cat = tax.label(m.category_code) if m.category_code in tax.categories else m.category_code
        reg = regions[m.region_code].name if m.region_code in regions else m.region_code
        click.echo(f"  事项 {cat} · {reg}：{m.cases} 件（重复 {int(m.repeats)}），"
                   f"{pd.Timestamp(m.first):%Y-%m-%d} .. {pd.Timestamp(m.last):%Y-%m-%d}")
    if len(p.sensitive):
        click.echo("  敏感期活动：" + "，".join(f"{r.start:%Y} {r.name} {r.cases} 件" for r in p.sensitive.itertuples()))
    for g in p.groups.itertuples():
        click.echo(f"  群体 {g.group_id}（{g.size} 人），{pd.Timestamp(g.joined_at):%Y-%m-%d} 起")


@persons.command("merge")
@click.argument("person_a")
@click.argument("person_b")
@click.option("--reason", required=True, help="Why (recorded with the decision).")
@click.option("--by", "created_by", default="analyst", show_default=True, help="Who decided.")
@pass_ctx
def persons_merge(ctx: Context, person_a: str, person_b: str, reason: str, created_by: str) -> None:
    """Join PERSON_B into PERSON_A: the decision is recorded and every later run keeps them one person."""
    _decide(ctx, "merge", person_a, person_b, None, reason, created_by)


@persons.command("split")
@click.argument("person_id")
@click.option("--records", "record_ids", required=True,
              help="Comma-separated record ids (source:source_id:seq) that are another person.")
@click.option("--reason", required=True, help="Why (recorded with the decision).")
@click.option("--by", "created_by", default="analyst", show_default=True, help="Who decided.")
@pass_ctx
def persons_split(ctx: Context, person_id: str, record_ids: str, reason: str, created_by: str) -> None:
    """Take --records out of PERSON_ID as a person of their own: recorded, and kept apart by every later run."""
    _decide(ctx, "split", person_id, None, [r.strip() for r in record_ids.split(",") if r.strip()], reason,
            created_by)


def _decide(ctx: Context, kind: str, person: str, other: str | None, records: list[str] | None, reason: str,
            created_by: str) -> None:
    now = datetime.now().replace(microsecond=0)
    try:
        with ctx.store() as session:
            result = pipeline.decide_persons(session, kind, person, other, records, reason, created_by, now)
            session.commit()
    except (RiskwatchError, ValueError) as exc:
        _fail(exc)
        return
    click.echo(result)


@cli.command()
@click.option("--limit", type=int, default=50, show_default=True)
@pass_ctx
def quarantine(ctx: Context, limit: int) -> None:
    """List quarantined rows: file, row, field and reason (the raw row stays in the store)."""
    from riskwatch.store import load_quarantine

    with ctx.session() as session:
        q = load_quarantine(session)
    click.echo(f"{len(q)} quarantined row(s)")
    for r in q.head(limit).itertuples():
        click.echo(f"  {r.file_name}: row {r.row_number}: {r.field}: {r.reason}")


def _pad(text: str, width: int, right: bool = False) -> str:
    """``text`` padded to ``width`` terminal columns (CJK characters take two)."""
    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    fill = " " * max(width - shown, 0)
    return fill + text if right else text + fill


def _row(label: str, *cells: object, width: int = 0) -> str:
    widths = (width,) * len(cells) if width else (8, 8, 10, 10, 10)
    return "  " + _pad(label, 18) + "".join(_pad(str(c), w, right=True) for c, w in zip(cells, widths, strict=False))


def _safe_url(url: str) -> str:
    """The URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}"
    return url


def main() -> None:
    """Entry point of the ``riskwatch`` console command."""
    try:
        cli()
    except RiskwatchError as exc:
        _fail(exc)


# the use cases with modules of their own register their commands on import
from riskwatch.cli import ledger as _ledger_commands  # noqa: E402,F401
