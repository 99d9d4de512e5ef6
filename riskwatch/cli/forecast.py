"""Commands of forecasting: ``riskwatch forecast`` (the store, one stored series, or a standalone file)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
import pandas as pd

from riskwatch import pipeline
from riskwatch.cli import Context, _fail, _row, cli, pass_ctx
from riskwatch.schema import RiskwatchError


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
