"""Commands of the month's figures: ``riskwatch stats``."""

from __future__ import annotations

from datetime import datetime

import click
import pandas as pd

from riskwatch import pipeline
from riskwatch.cli import Context, _fail, _row, cli, pass_ctx
from riskwatch.schema import CHANNEL_LABELS, LEVEL_LABELS, Channel, Level


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
