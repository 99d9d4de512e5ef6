"""Commands of persons and groups: ``riskwatch persons [resolve | show | merge | split]``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
import pandas as pd

from riskwatch import pipeline
from riskwatch.cli import Context, _fail, cli, pass_ctx
from riskwatch.schema import CHANNEL_LABELS, LEVEL_LABELS, Channel, Level, RiskwatchError


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
