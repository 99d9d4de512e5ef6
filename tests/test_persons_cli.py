"""`riskwatch persons` end to end on the small synthetic city: every party gets a person, a re-run with
nothing new does nothing (and one after a changed case, a decision or changed settings does the work), an
analyst's split and merge survive later runs (incremental and full), profiles are masked, and the
standalone `persons resolve` answers every record whatever the row order."""

from __future__ import annotations

import re
import shutil
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


def _runs(url: str) -> int:
    return len(table(url, "persons_runs"))


def test_every_party_has_one_person_and_a_rerun_changes_nothing(store: str, small_config: Path) -> None:
    parties = table(store, "parties")
    register = _register(store)
    assert len(register) == len(parties) and register["record_id"].is_unique
    assert register["confidence"].between(0, 1).all()
    matters, groups = table(store, "case_matters"), table(store, "person_groups")
    assert len(matters) == len(table(store, "cases")) and matters["is_repeat"].any()
    runs = table(store, "persons_runs")
    again = run(small_config, store, "persons")
    assert again.exit_code == 0, again.output
    # nothing new: one line, and nothing written (no run row; the register keeps the run ids it had)
    assert again.output.startswith(f"无新增 nothing new since persons run {runs['id'].max()} (")
    assert len(again.output.strip().splitlines()) == 1
    assert f"{len(parties)} recorded parties" in again.output and f"{len(groups)} groups" in again.output
    pd.testing.assert_frame_equal(table(store, "persons_runs"), runs)
    pd.testing.assert_frame_equal(_register(store), register)
    pd.testing.assert_frame_equal(table(store, "case_matters"), matters)
    pd.testing.assert_frame_equal(table(store, "person_groups"), groups)
    # --full does the work all the same, with the same result
    full = run(small_config, store, "persons", "--full")
    assert full.exit_code == 0, full.output
    assert "(full)" in full.output and _runs(store) == len(runs) + 1
    after = _register(store)
    pd.testing.assert_frame_equal(after.drop(columns=["id", "run_id"]), register.drop(columns=["id", "run_id"]))
    pd.testing.assert_frame_equal(table(store, "case_matters").drop(columns="id"), matters.drop(columns="id"))
    pd.testing.assert_frame_equal(table(store, "person_groups").drop(columns="id"), groups.drop(columns="id"))
    assert "nothing new" in run(small_config, store, "persons").output and _runs(store) == len(runs) + 1


def _export_row(city: Path, source_id: str) -> tuple[list[str], list[str]]:
    """(header, row) of the petition-register case ``source_id`` as its CSV export wrote it."""
    for path in sorted((city / "petition_register").glob("*.csv")):
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig") if raw.startswith(b"\xef\xbb\xbf") else raw.decode("gb18030")
        lines = text.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("信访件编号"))
        frame = pd.read_csv(pd.io.common.StringIO("\n".join(lines[start:])), dtype=str, keep_default_na=False)
        found = frame.loc[frame["信访件编号"] == source_id]
        if len(found):
            return list(frame.columns), found.iloc[-1].tolist()
    raise AssertionError(f"no CSV row of {source_id}")


def test_an_update_that_raises_a_case_level_is_not_nothing_new(store: str, small_config: Path, small_city: Path,
                                                               tmp_path: Path) -> None:
    """An ``updates/`` export that changes only a case's level and status: the next run must derive the
    groups again (the group of that case now reached Beijing), not report nothing new."""
    groups, group_cases = table(store, "person_groups"), table(store, "group_cases")
    cases = table(store, "cases")
    csv_ids: set[str] = set()
    for path in (small_city / "petition_register").glob("*.csv"):
        raw = path.read_bytes()
        csv_ids |= set(re.findall(r"XF\d+", raw.decode("utf-8-sig") if raw.startswith(b"\xef\xbb\xbf")
                                  else raw.decode("gb18030")))
    below = set(groups.loc[groups["max_level"] != "national", "group_id"])
    chosen = group_cases.loc[group_cases["group_id"].isin(below) & (group_cases["source"] == "petition_register")
                             & group_cases["source_id"].isin(csv_ids)]
    assert len(chosen), "the small city has a group case below Beijing in a CSV export"
    group_id, source_id = chosen.iloc[0][["group_id", "source_id"]]
    header, row = _export_row(small_city, source_id)
    row[header.index("到达层级")], row[header.index("办理状态")] = "进京", "办理中"
    row[header.index("更新时间")] = "2025-07-01 08:00:00"
    update = tmp_path / "updates" / "信访登记_更新_20250701.csv"
    update.parent.mkdir()
    pd.DataFrame([row], columns=header).to_csv(update, index=False, encoding="utf-8-sig")
    before = _runs(store)
    out = run(small_config, store, "ingest", str(update.parent))
    assert out.exit_code == 0 and "updated 1" in out.output, out.output
    case = table(store, "cases").set_index("source_id").loc[source_id]
    assert case["level"] == "national" and case["status"] == "in_progress"
    assert len(table(store, "cases")) == len(cases)
    again = run(small_config, store, "persons")
    assert again.exit_code == 0, again.output
    assert "(incremental)" in again.output and " 0 resolved" in again.output and "nothing new" not in again.output
    assert _runs(store) == before + 1
    now = table(store, "person_groups").set_index("group_id")
    assert now.loc[group_id, "max_level"] == "national"
    assert "nothing new" in run(small_config, store, "persons").output and _runs(store) == before + 1


def test_changed_settings_are_not_nothing_new(store: str, small_config: Path, tmp_path: Path) -> None:
    other = tmp_path / "config"
    shutil.copytree(small_config, other)
    settings = other / "settings.toml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace("repeat_text_similarity = 0.5", "repeat_text_similarity = 0.6"),
                        encoding="utf-8")
    assert run(small_config, store, "persons").output.startswith("无新增")
    before = _runs(store)
    out = run(other, store, "persons")
    assert out.exit_code == 0 and "(incremental)" in out.output, out.output
    assert _runs(store) == before + 1
    out = run(small_config, store, "persons")     # and back
    assert "(incremental)" in out.output and _runs(store) == before + 2


def test_a_manual_split_and_merge_survive_incremental_and_full_runs(store: str, small_config: Path) -> None:
    register = _register(store)
    sizes = register.groupby("person_id").size()
    big = sizes.loc[sizes >= 3].index[0]
    records = register.loc[register["person_id"] == big, "record_id"].tolist()
    taken = records[:1]
    out = run(small_config, store, "persons", "split", big, "--records", ",".join(taken), "--reason", "同名不同人")
    assert out.exit_code == 0, out.output
    new_id = re.search(r"now person (P\w+)", out.output).group(1)
    assert "nothing new" not in run(small_config, store, "persons").output   # a split is news
    assert run(small_config, store, "persons").output.startswith("无新增")
    loners = sizes.loc[sizes == 1].index[:2].tolist()
    out = run(small_config, store, "persons", "merge", loners[0], loners[1], "--reason", "核实为同一人")
    assert out.exit_code == 0, out.output
    for args in (("persons",), ("persons", "--full")):
        runs = _runs(store)
        out = run(small_config, store, *args)
        assert out.exit_code == 0 and "nothing new" not in out.output, out.output   # a merge is news too
        assert _runs(store) == runs + 1
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
    same = run(small_config, db_url, "persons")    # the inputs' digests are read the same way on both
    assert same.exit_code == 0 and same.output.startswith("无新增"), same.output
    assert _runs(db_url) == 1
    register = _register(db_url)
    sizes = register.groupby("person_id").size()
    person = sizes.loc[sizes >= 2].index[0]
    record = register.loc[register["person_id"] == person, "record_id"].iloc[0]
    assert run(small_config, db_url, "persons", "split", person, "--records", record, "--reason", "r").exit_code == 0
    assert "(incremental)" in run(small_config, db_url, "persons").output and _runs(db_url) == 2
    again = run(small_config, db_url, "persons", "--full")
    assert again.exit_code == 0, again.output
    now = _register(db_url).set_index("record_id")["person_id"]
    assert now[record] != person and len(now) == len(register)
    assert len(table(db_url, "case_matters")) == len(table(db_url, "cases"))
    groups = table(db_url, "person_groups")
    assert len(groups) == len(table(db_url, "group_members")["group_id"].unique())


def test_persons_runs_on_a_store_whose_exports_name_nobody(tmp_path: Path, small_config: Path,
                                                           small_city: Path) -> None:
    """An export without any party column (no name, ID number, phone or address: issue 17's message boards)
    gives no party records; `persons` used to stop with `high <= 0` and now runs, with 0 persons."""
    source = sorted((small_city / "petition_register").glob("*.csv"))[0]
    raw = source.read_bytes()
    lines = (raw.decode("utf-8-sig") if raw.startswith(b"\xef\xbb\xbf") else raw.decode("gb18030")).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("信访件编号"))
    frame = pd.read_csv(pd.io.common.StringIO("\n".join(lines[start:])), dtype=str, keep_default_na=False)
    words = ("信访人", "姓名", "证件", "电话", "住址", "地址", "账号", "联名人", "同行人员")
    party = [c for c in frame.columns if any(w in c for w in words)]
    assert party
    folder = tmp_path / "petition_register"
    folder.mkdir()
    frame.drop(columns=party).head(300).to_csv(folder / source.name, index=False, encoding="utf-8-sig")
    url = f"sqlite:///{tmp_path}/nobody.db"
    assert ingest(small_config, url, tmp_path).exit_code == 0
    assert len(table(url, "cases")) > 0
    result = run(small_config, url, "persons")
    assert result.exit_code == 0, result.output
    assert len(table(url, "person_records")) == 0 and "0 persons" in result.output
