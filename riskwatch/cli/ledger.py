"""Commands of the risk ledger: ``riskwatch ledger`` and ``riskwatch items list | show | update``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
import pandas as pd

from riskwatch.assign.lifecycle import CLOSED, OPEN_WORK
from riskwatch.cli import Context, _fail, cli, pass_ctx
from riskwatch.schema import GRADE_LABELS, GRADE_RANK, Grade, RiskwatchError

DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%d %H:%M"]
STATUS_ACTIONS = {"confirmed": "confirm", "monitoring": "monitor", "discarded": "discard",
                  "acknowledged": "acknowledge", "in_progress": "progress", "resolved": "resolve",
                  "verified": "verify", "reopened": "reopen"}


@cli.command("ledger")
@click.option("--as-of", "as_of", type=click.DateTime(DATE_FORMATS), default=None,
              help="The time the run is for (default: now); the latest weekly detect run before it is read.")
@pass_ctx
def ledger(ctx: Context, as_of: datetime | None) -> None:
    """Grade the open signals into the risk ledger (red / yellow / blue), name owners and deadlines, follow
    deadlines; running it twice for one time changes nothing."""
    from riskwatch.pipeline.ledger import run_ledger

    when = as_of or datetime.now().replace(microsecond=0)
    with ctx.store() as session:
        summary = run_ledger(session, ctx.settings, when)
        session.commit()
    items = summary.items
    click.echo(f"风险台账 ledger as of {when:%Y-%m-%d %H:%M}: {summary.signals} open signals of the detect run of "
               f"{summary.detect_as_of:%Y-%m-%d} -> {len(items)} items, {len(summary.events)} new events")
    _echo_counts(items)
    kinds = summary.events["kind"].value_counts()
    if len(kinds):
        click.echo("  events: " + ", ".join(f"{k} {n}" for k, n in kinds.items()))


def _echo_counts(items: pd.DataFrame) -> None:
    open_items = items[~items["status"].isin([s.value for s in CLOSED])]
    for grade in ("red", "yellow", "blue"):
        sub = open_items[open_items["grade"] == grade]
        by_status = ", ".join(f"{s} {n}" for s, n in sub["status"].value_counts().sort_index().items())
        click.echo(f"  {GRADE_LABELS[grade]:<4} {len(sub):>5}  ({by_status})")


@cli.group("items", invoke_without_command=True)
@click.option("--grade", type=click.Choice(["red", "yellow", "blue"]), default=None)
@click.option("--owner", default=None, help="A staff id.")
@click.option("--region", default=None, help="A region code (its sub-regions included).")
@click.option("--status", default=None, help="new, confirmed, assigned, acknowledged, in_progress, resolved, ...")
@click.option("--overdue", is_flag=True, help="Only open items past their deadline.")
@click.option("--as-of", "as_of", type=click.DateTime(DATE_FORMATS), default=None,
              help="The ledger as it stood then (replayed from the items' history).")
@click.option("--limit", type=int, default=50, show_default=True)
@pass_ctx
@click.pass_context
def items(click_ctx: click.Context, ctx: Context, grade: str | None, owner: str | None, region: str | None,
          status: str | None, overdue: bool, as_of: datetime | None, limit: int) -> None:
    """List the risk items (`items show KEY` for one, `items update KEY` to act on one)."""
    if click_ctx.invoked_subcommand is not None:
        return
    from riskwatch.assign import ledger_as_of
    from riskwatch.store import ledger as store

    with ctx.session() as session:
        frame = store.load_items(session)
        if as_of is not None:
            past = ledger_as_of(store.load_events(session, until=as_of), pd.Timestamp(as_of))
            frame = past.merge(frame.drop(columns=["grade", "owner_id", "due_at", "status"]), on="item_key")
    now = pd.Timestamp(as_of or datetime.now())
    if grade:
        frame = frame[frame["grade"] == grade]
    if owner:
        frame = frame[frame["owner_id"] == owner]
    if region:
        frame = frame[frame["region_code"].fillna("").str.startswith(region)]
    if status:
        frame = frame[frame["status"] == status]
    if overdue:
        frame = frame[frame["status"].isin([s.value for s in OPEN_WORK])
                      & (pd.to_datetime(frame["due_at"]) < now)]
    staff = {m.id: m for m in ctx.settings.staff}
    rank = frame["grade"].map(lambda g: -GRADE_RANK[Grade(g)])
    frame = frame.assign(_rank=rank).sort_values(["_rank", "item_key"])
    click.echo(f"{len(frame)} risk item(s)" + (f" as of {as_of:%Y-%m-%d %H:%M}" if as_of else ""))
    for row in frame.head(limit).itertuples():
        who = staff.get(row.owner_id)
        owner_text = f"{who.name}（{who.title}）" if who else "未交办"
        due = f"{pd.Timestamp(row.due_at):%m-%d}前" if pd.notna(row.due_at) else ""
        click.echo(f"  {GRADE_LABELS[row.grade]} {row.status:<12} {row.item_key:<34} {owner_text} {due}  "
                   f"{row.sentence}")
    if len(frame) > limit:
        click.echo(f"  ... {len(frame) - limit} more (--limit)")


@items.command("review")
@click.option("--limit", type=int, default=100, show_default=True)
@pass_ctx
def items_review(ctx: Context, limit: int) -> None:
    """The review queue of the daily check and the Monday meeting (研判): new items and those being watched,
    highest grade and score first, each with why it is graded so; decide each with `items update KEY
    --status confirmed | monitoring | discarded --note ... --by ANALYST`. Then the red and yellow items that
    no run has supported for four weeks, with the grade the evidence since would give: lower one with
    `items update KEY --grade ... --note ... --by ANALYST` (grades never fall on their own)."""
    from riskwatch.assign.lifecycle import stale_grades
    from riskwatch.store import ledger as store

    with ctx.session() as session:
        frame = store.load_items(session)
        last = store.latest_run(session)
    waiting = frame[frame["status"].isin(["new", "monitoring"])]
    waiting = waiting.assign(_rank=waiting["grade"].map(lambda g: -GRADE_RANK[Grade(g)]),
                             _new=waiting["status"] != "new")
    waiting = waiting.sort_values(["_new", "_rank", "score", "item_key"], ascending=[True, True, False, True])
    counts = waiting.groupby(["status", "grade"]).size()
    click.echo(f"待研判 review queue: {int((waiting['status'] == 'new').sum())} new, "
               f"{int((waiting['status'] == 'monitoring').sum())} being watched"
               + ("" if waiting.empty else " (" + ", ".join(f"{s} {GRADE_LABELS[g]} {n}" for (s, g), n in
                                                           counts.items()) + ")"))
    for row in waiting.head(limit).itertuples():
        opened = f"{pd.Timestamp(row.opened_at):%m-%d}" if pd.notna(row.opened_at) else ""
        click.echo(f"  {GRADE_LABELS[row.grade]} {row.score:>5.0f} {row.status:<10} {opened} {row.item_key:<34} "
                   f"{row.sentence}")
    if len(waiting) > limit:
        click.echo(f"  ... {len(waiting) - limit} more (--limit)")
    if len(waiting):
        click.echo("decide: riskwatch items update KEY --status confirmed|monitoring|discarded --note 理由 --by 研判员ID")
    if last is None or frame.empty:
        return
    stale = stale_grades(frame, pd.Timestamp(last["as_of"]))
    click.echo(f"建议降级 grades to review: {len(stale)} red / yellow item(s) no run has supported for four weeks "
               f"(as of the ledger run of {pd.Timestamp(last['as_of']):%Y-%m-%d})")
    for row in stale.head(limit).itertuples():
        click.echo(f"  {GRADE_LABELS[row.grade]} -> {GRADE_LABELS[row.proposed]}  {row.item_key:<34} "
                   f"last supported {pd.Timestamp(row.supported_at):%Y-%m-%d}")
    if len(stale) > limit:
        click.echo(f"  ... {len(stale) - limit} more (--limit)")
    if len(stale):
        click.echo("lower: riskwatch items update KEY --grade yellow|blue --note 理由 --by 研判员ID")


@items.command("show")
@click.argument("key")
@pass_ctx
def items_show(ctx: Context, key: str) -> None:
    """One item: grade and why, owner and deadline, evidence, and its whole history."""
    from riskwatch.pipeline.ledger import item_story

    try:
        with ctx.session() as session:
            story = item_story(session, key)
    except RiskwatchError as exc:
        _fail(exc)
        return
    item, events = story["item"], story["events"]
    staff = {m.id: m for m in ctx.settings.staff}
    who = staff.get(item["owner_id"])
    click.echo(f"{item['item_key']}  {GRADE_LABELS[item['grade']]}  {item['status']}")
    click.echo(f"  研判：{item['sentence']}")
    click.echo(f"  包案：{who.name}（{who.title}）" if who else "  包案：未交办")
    if pd.notna(item["due_at"]):
        click.echo(f"  期限：{pd.Timestamp(item['due_at']):%Y-%m-%d}")
    click.echo(f"  区域 {item['region_code']}  类别 {item['category_code']}  证据 {len(item['evidence'])} 个信号，"
               f"{len(item['case_keys'])} 件")
    if item["chain"]:
        groups = "、".join(f"群体 {g['group_id']} {g['cases']} 件" for g in item["chain"].get("groups", []))
        click.echo(f"  构成：本期 {item['chain'].get('cases', 0)} 件；{groups or '无群体'}；"
                   f"重复信访人 {item['chain'].get('repeat_cases', 0)} 件")
    click.echo("  history:")
    for e in events.itertuples():
        click.echo(f"    {e.at:%Y-%m-%d %H:%M}  {e.kind:<16} {e.by:<12} {e.note}")


@items.command("update")
@click.argument("key")
@click.option("--status", "status", type=click.Choice(sorted(STATUS_ACTIONS)), default=None,
              help="The item's new status (acknowledged, in_progress, resolved, verified, ...).")
@click.option("--grade", type=click.Choice(["red", "yellow", "blue"]), default=None,
              help="An analyst's override of the grade (held until new evidence outweighs it).")
@click.option("--owner", default=None, help="Hand the item over to this staff id (交接).")
@click.option("--note", required=True, help="What was done, by whom, why (recorded).")
@click.option("--by", "by", required=True, help="Who: a staff id (staff.toml); their role is checked.")
@pass_ctx
def items_update(ctx: Context, key: str, status: str | None, grade: str | None, owner: str | None, note: str,
                 by: str) -> None:
    """Record an action on one item: a new status, a grade override, or a hand-over to another owner; each
    is an event in its history."""
    from riskwatch.pipeline.ledger import act_on_item

    if sum(x is not None for x in (status, grade, owner)) != 1:
        _fail(ValueError("give exactly one of --status, --grade and --owner"))
        return
    action = "override" if grade else "hand_over" if owner else STATUS_ACTIONS[str(status)]
    try:
        with ctx.store() as session:
            events = act_on_item(session, ctx.settings, key, action, by, note,
                                 datetime.now().replace(microsecond=0), grade, owner)
            session.commit()
    except RiskwatchError as exc:
        _fail(exc)
        return
    staff = {m.id: m for m in ctx.settings.staff}
    for e in events.to_dict("records"):
        who = staff.get(str(e["owner_id"]))
        held = f", 包案 {who.name}（{who.title}）" if who else ""
        click.echo(f"{key}: {e['kind']} by {e['by']} -> {GRADE_LABELS[e['grade']]}{held}, {e['note']}")


@items.command("lists")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder (default: reports/lists/<today>).")
@pass_ctx
def items_lists(ctx: Context, out: Path | None) -> None:
    """Write the case-assignment lists (领导包案清单): one per county leader (red items) and one per township
    (yellow and blue items), as XLSX to print (A4 landscape) and CSV; personal data masked."""
    from riskwatch.pipeline.ledger import write_lists

    now = datetime.now().replace(microsecond=0)
    folder = out or Path("reports") / "lists" / f"{now:%Y-%m-%d}"
    with ctx.session() as session:
        paths = write_lists(session, ctx.settings, folder, now)
    click.echo(f"{len(paths) // 2} list(s) in {folder}")
    for p in paths:
        if p.suffix == ".xlsx":
            click.echo(f"  {p}")
