"""The risk ledger through the CLI on a small synthetic city, SQLite and PostgreSQL: ledger, items list / show /
update; idempotent per as-of; the past replayed from the history (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from riskwatch.config import load_settings
from tests.cli_helpers import ingest, run, table

STAFF = {m.id: m for m in load_settings().staff}
ANALYST = next(m.id for m in STAFF.values() if m.role == "analyst")


@pytest.mark.slow
def test_ledger_grades_assigns_and_follows(db_url: str, small_config: Path, small_city: Path) -> None:
    assert ingest(small_config, db_url, small_city).exit_code == 0
    assert run(small_config, db_url, "persons").exit_code == 0
    assert run(small_config, db_url, "detect", "--as-of", "2025-06-09").exit_code == 0

    first = run(small_config, db_url, "ledger", "--as-of", "2025-06-09 08:00")
    assert first.exit_code == 0, first.output
    items = table(db_url, "risk_items")
    events = table(db_url, "risk_item_events")
    assert len(items) > 0 and items["item_key"].is_unique
    assert items["sentence"].str.len().min() > 5 and (items["reasons"] != "[]").all()
    red = items[items["grade"] == "red"]
    assert (red["status"] == "assigned").all()
    assert all(STAFF[o].role == "county_leader" for o in red["owner_id"])
    assert set(events["kind"]) >= {"opened"}

    again = run(small_config, db_url, "ledger", "--as-of", "2025-06-09 08:00")
    assert "0 new events" in again.output
    assert len(table(db_url, "risk_item_events")) == len(events)

    earlier = run(small_config, db_url, "ledger", "--as-of", "2025-06-01")
    assert earlier.exit_code == 2 and "rewrite history" in earlier.output

    waiting = items[items["status"] == "new"]["item_key"].iloc[0]
    note = "研判会确认：交乡镇包案"
    queue = run(small_config, db_url, "items", "review", "--limit", "1000")
    assert queue.exit_code == 0 and waiting in queue.output and "待研判" in queue.output
    stranger = run(small_config, db_url, "items", "update", waiting, "--status", "confirmed", "--note", note,
                   "--by", "someone")
    assert stranger.exit_code == 2 and "not a staff id" in stranger.output
    worker = next(m.id for m in STAFF.values() if m.role == "grid_worker")
    refused = run(small_config, db_url, "items", "update", waiting, "--status", "confirmed", "--note", note,
                  "--by", worker)
    assert refused.exit_code == 2 and "may not confirm" in refused.output
    done = run(small_config, db_url, "items", "update", waiting, "--status", "confirmed", "--note", note,
               "--by", ANALYST)
    assert done.exit_code == 0, done.output
    bad = run(small_config, db_url, "items", "update", waiting, "--status", "verified", "--note", "x", "--by",
              ANALYST)
    assert bad.exit_code == 2 and "cannot verify" in bad.output

    later = run(small_config, db_url, "ledger", "--as-of", "2025-06-10 08:00")
    assert later.exit_code == 0, later.output
    now = table(db_url, "risk_items").set_index("item_key").loc[waiting]
    assert now["status"] == "assigned" and isinstance(now["owner_id"], str)

    owner = str(now["owner_id"])
    peer = next((m.id for m in STAFF.values() if m.role == STAFF[owner].role and m.region == STAFF[owner].region
                 and m.id != owner), None)
    if peer is not None:
        handed = run(small_config, db_url, "items", "update", waiting, "--owner", peer, "--note", "交接", "--by",
                     ANALYST)
        assert handed.exit_code == 0, handed.output
        assert table(db_url, "risk_items").set_index("item_key").loc[waiting, "owner_id"] == peer
    nobody = run(small_config, db_url, "items", "update", waiting, "--owner", "X1", "--note", "交接", "--by",
                 ANALYST)
    assert nobody.exit_code == 2 and "no staff member" in nobody.output
    shown = run(small_config, db_url, "items", "show", waiting)
    assert note in shown.output and "assigned" in shown.output
    past = run(small_config, db_url, "items", "--status", "new", "--as-of", "2025-06-09 09:00", "--limit", "500")
    assert waiting in past.output
    listed = run(small_config, db_url, "items", "--grade", "red")
    assert f"{len(red)} risk item(s)" in listed.output

    owned = table(db_url, "risk_items")
    owned = owned[owned["status"].isin(["assigned", "acknowledged"])]
    moved_key, was = owned[["item_key", "grade"]].iloc[0]
    to, role = ("red", "county_leader") if was == "yellow" else ("yellow", "township_leader")
    moved = run(small_config, db_url, "items", "update", moved_key, "--grade", to, "--note", "研判会调整等级",
                "--by", ANALYST)
    assert moved.exit_code == 0, moved.output
    assert "override" in moved.output and "reassigned" in moved.output
    after = table(db_url, "risk_items").set_index("item_key").loc[moved_key]
    assert after["grade"] == to and after["status"] == "assigned" and STAFF[str(after["owner_id"])].role == role

    # five weeks on: any red or yellow item no run has supported since is proposed for review (the rule itself:
    # tests/test_lifecycle.py)
    assert run(small_config, db_url, "detect", "--as-of", "2025-07-14").exit_code == 0
    assert run(small_config, db_url, "ledger", "--as-of", "2025-07-14 08:00").exit_code == 0
    review = run(small_config, db_url, "items", "review", "--limit", "1000")
    assert review.exit_code == 0 and "建议降级" in review.output, review.output
    proposed = [line.split() for line in review.output.splitlines() if " -> " in line]
    items = table(db_url, "risk_items").set_index("item_key")
    for words in proposed:
        key, supported = words[3], pd.Timestamp(words[-1])
        assert items.loc[key, "grade"] in ("red", "yellow") and supported <= pd.Timestamp("2025-06-16")
