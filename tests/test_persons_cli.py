"""`riskwatch persons` end to end on the small synthetic city: every party gets a person, re-runs change
nothing, an analyst's split and merge survive later runs (incremental and full), profiles are masked,
and the standalone `persons resolve` answers every record whatever the row order."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import ingest, run, table


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, small_config: Path, small_city: Path) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('persons_cli')}/p.db"
    assert ingest(small_config, url, small_city).exit_code == 0
    result = run(small_config, url, "persons")
    assert result.exit_code == 0, result.output
    assert "(full)" in result.output and "重复信访人" in result.output and "最大的群体" in result.output
    return url


def _register(url: str) -> pd.DataFrame:
    return table(url, "person_records").sort_values("record_id", ignore_index=True)


def test_every_party_has_one_person_and_a_rerun_changes_nothing(store: str, small_config: Path) -> None:
    parties = table(store, "parties")
    register = _register(store)
    assert len(register) == len(parties) and register["record_id"].is_unique
    assert register["confidence"].between(0, 1).all()
    matters, groups = table(store, "case_matters"), table(store, "person_groups")
    assert len(matters) == len(table(store, "cases")) and matters["is_repeat"].any()
    again = run(small_config, store, "persons")
    assert again.exit_code == 0, again.output
    assert "(incremental)" in again.output and " 0 resolved" in again.output
    after = _register(store)
    pd.testing.assert_frame_equal(after.drop(columns=["id", "run_id"]), register.drop(columns=["id", "run_id"]))
    pd.testing.assert_frame_equal(table(store, "case_matters").drop(columns="id"), matters.drop(columns="id"))
    pd.testing.assert_frame_equal(table(store, "person_groups").drop(columns="id"), groups.drop(columns="id"))


def test_a_manual_split_and_merge_survive_incremental_and_full_runs(store: str, small_config: Path) -> None:
    register = _register(store)
    sizes = register.groupby("person_id").size()
    big = sizes.loc[sizes >= 3].index[0]
    records = register.loc[register["person_id"] == big, "record_id"].tolist()
    taken = records[:1]
    out = run(small_config, store, "persons", "split", big, "--records", ",".join(taken), "--reason", "同名不同人")
    assert out.exit_code == 0, out.output
    new_id = re.search(r"now person (P\w+)", out.output).group(1)
    loners = sizes.loc[sizes == 1].index[:2].tolist()
    out = run(small_config, store, "persons", "merge", loners[0], loners[1], "--reason", "核实为同一人")
    assert out.exit_code == 0, out.output
    for args in (("persons",), ("persons", "--full")):
        assert run(small_config, store, *args).exit_code == 0
        now = _register(store).set_index("record_id")["person_id"]
        assert now[taken[0]] == new_id and now[records[1]] != new_id
        assert now[records[1]] == now[records[2]]
        merged = register.loc[register["person_id"].isin(loners), "record_id"]
        assert now[merged].nunique() == 1
    decisions = table(store, "person_decisions")
    assert list(decisions["kind"]) == ["split", "merge"] and set(decisions["reason"]) == {"同名不同人", "核实为同一人"}
    bad = run(small_config, store, "persons", "split", big, "--records", "nope:1:0", "--reason", "x")
    assert bad.exit_code != 0 and "not records of" in bad.output


def test_the_profile_is_masked(store: str, small_config: Path) -> None:
    register = _register(store)
    person = register.groupby("person_id").size().sort_values().index[-1]
    out = run(small_config, store, "persons", "show", person)
    assert out.exit_code == 0, out.output
    assert person in out.output and "件" in out.output
    parties = table(store, "parties")
    mine = parties.merge(table(store, "cases")[["id", "source", "source_id"]], left_on="case_id", right_on="id")
    mine["record_id"] = mine["source"] + ":" + mine["source_id"] + ":" + mine["seq"].astype(str)
    mine = mine.loc[mine["record_id"].isin(register.loc[register["person_id"] == person, "record_id"])]
    for value in pd.concat([mine["phone"], mine["id_number"]]).dropna():
        assert str(value) not in out.output
    for name in mine["name"].dropna():
        if len(str(name).strip()) >= 2:
            assert str(name).strip() not in out.output
    assert run(small_config, store, "persons", "show", "P_NOBODY").exit_code != 0


def test_persons_resolve_standalone_answers_every_record_whatever_the_order(tmp_path: Path, store: str,
                                                                           small_config: Path) -> None:
    cases = table(store, "cases")[["id", "source", "source_id", "region_code"]].rename(
        columns={"region_code": "case_region"})
    parties = table(store, "parties").merge(cases, left_on="case_id", right_on="id").head(3000)
    frame = pd.DataFrame({
        "record_id": parties["source"] + ":" + parties["source_id"] + ":" + parties["seq"].astype(str),
        "name": parties["name"], "id_number": parties["id_number"], "phone": parties["phone"],
        "address": parties["address"], "district": parties["case_region"].str[:6]})
    results = []
    for k, sample in enumerate((frame, frame.sample(frac=1, random_state=3))):
        src, out = tmp_path / f"in{k}.csv", tmp_path / f"out{k}.csv"
        sample.to_csv(src, index=False)
        res = run(small_config, store, "persons", "resolve", "--input", str(src), "--output", str(out))
        assert res.exit_code == 0, res.output
        got = pd.read_csv(out, dtype=str)
        assert list(got.columns) == ["record_id", "person_id"]
        assert got["record_id"].tolist() == sample["record_id"].tolist()
        results.append(got.sort_values("record_id", ignore_index=True))
    pd.testing.assert_frame_equal(results[0], results[1])
    assert results[0]["person_id"].nunique() < len(frame)


def test_detect_reads_the_stored_groups(store: str, small_config: Path) -> None:
    groups = table(store, "person_groups")
    assert len(groups) > 0
    first = pd.to_datetime(groups["first_seen"]).max()
    monday = (first + pd.Timedelta(days=7 - first.weekday())).normalize()   # the week a group first appeared
    out = run(small_config, store, "detect", "--as-of", f"{monday:%Y-%m-%d}")
    assert out.exit_code == 0, out.output
    found = table(store, "signals")
    group_kinds = found.loc[found["kind"].str.startswith("group_")]
    assert len(group_kinds) > 0 and group_kinds["subject"].isin(set(groups["group_id"])).all()
    assert group_kinds["sentence"].str.contains("群体").all()


def test_runs_and_decisions_on_both_backends(db_url: str, small_config: Path, small_city: Path) -> None:
    assert ingest(small_config, db_url, small_city).exit_code == 0
    first = run(small_config, db_url, "persons")
    assert first.exit_code == 0, first.output
    register = _register(db_url)
    sizes = register.groupby("person_id").size()
    person = sizes.loc[sizes >= 2].index[0]
    record = register.loc[register["person_id"] == person, "record_id"].iloc[0]
    assert run(small_config, db_url, "persons", "split", person, "--records", record, "--reason", "r").exit_code == 0
    again = run(small_config, db_url, "persons", "--full")
    assert again.exit_code == 0, again.output
    now = _register(db_url).set_index("record_id")["person_id"]
    assert now[record] != person and len(now) == len(register)
    assert len(table(db_url, "case_matters")) == len(table(db_url, "cases"))
    groups = table(db_url, "person_groups")
    assert len(groups) == len(table(db_url, "group_members")["group_id"].unique())
