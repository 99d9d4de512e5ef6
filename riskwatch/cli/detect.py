"""Commands of detection and signals: ``riskwatch detect`` and ``riskwatch signals [silence | silences]``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
import pandas as pd

from riskwatch import pipeline
from riskwatch.cli import Context, _fail, cli, pass_ctx
from riskwatch.schema import RiskwatchError


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
