"""The synthetic city: determinism, export shapes against the mappings, truth consistency, realism bands."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from riskwatch.config import Settings, load_settings
from riskwatch.synth import generate_city, write_hotline_bulk
from riskwatch.synth.people import id_is_valid

END = date(2024, 6, 30)
SOURCES = ("hotline_12345", "hotline_12328", "petition_register")
REGION_ALIASES = {"district": "region_district"}


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="module")
def city(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate_city(settings, out, years=2, seed=11, end=END, scale=0.1)
    return out


def _rows(path: Path) -> list[list[str]]:
    """All rows of a CSV (UTF-8-BOM or GB18030) or XLSX as text."""
    if path.suffix == ".xlsx":
        ws = load_workbook(path, read_only=True).active
        return [["" if v is None else str(v) for v in r] for r in ws.iter_rows(values_only=True)]
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig") if raw.startswith(b"\xef\xbb\xbf") else raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")
    return list(csv.reader(io.StringIO(text)))


def _headers(settings: Settings, source: str) -> set[str]:
    m = settings.mappings[source]
    return {h for hs in list(m.fields.values()) + list(m.party.values()) for h in hs}


def _parse(settings: Settings, path: Path, source: str) -> tuple[list[str], list[list[str]], int]:
    """Headers (merged as upper-lower), data rows and the number of lines above the data."""
    rows = _rows(path)
    known = _headers(settings, source)
    h = next(i for i, r in enumerate(rows) if sum(c in known for c in r) >= 3)
    header = rows[h]
    below = rows[h + 1] if h + 1 < len(rows) else []
    two_row = below and not any(c in known and c.isascii() is False and c.startswith(("2", "X", "J")) for c in below) \
        and sum(c in ("姓名", "区县", "一级", "一级分类") for c in below) > 0
    if two_row:
        names, upper = [], ""
        for top, low in zip(header, below, strict=False):
            upper = top or upper
            names.append(f"{upper}-{low}" if low else top)
        return names, rows[h + 2:], h + 2
    return header, rows[h + 1:], h + 1


def _export_files(out: Path, source: str) -> list[Path]:
    return sorted((out / source).glob("*.*"))


def test_deterministic(settings: Settings, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    generate_city(settings, a, years=1, seed=5, end=END, scale=0.05)
    generate_city(settings, b, years=1, seed=5, end=END, scale=0.05)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b and any(str(f).endswith(".xlsx") for f in files_a)
    for f in files_a:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_headers_match_mappings(settings: Settings, city: Path) -> None:
    for source in SOURCES:
        known = _headers(settings, source)
        files = _export_files(city, source)
        assert files, source
        for path in files:
            header, _, _ = _parse(settings, path, source)
            for h in header:
                if not h:
                    continue  # trailing empty columns
                lower = h.split("-", 1)[-1]
                upper = h.split("-", 1)[0]
                assert h in known or lower in known or upper in known, (path.name, h)


def test_real_export_shapes(settings: Settings, city: Path) -> None:
    all_files = [p for s in SOURCES for p in _export_files(city, s)]
    firsts = {p: _rows(p) for p in all_files}
    assert any(r[0][0].endswith("明细表") and r[1][0].startswith("导出时间：") for r in firsts.values())
    assert any(r[-1][0] == "合计" for r in firsts.values())
    assert any(p.suffix == ".xlsx" for p in _export_files(city, "hotline_12345"))
    assert any(p.suffix == ".xlsx" for p in _export_files(city, "petition_register"))
    assert any("来电人信息" in r[i] for r in firsts.values() for i in range(min(4, len(r))))  # merged header
    raw = {p: p.read_bytes() for p in all_files if p.suffix == ".csv"}
    assert any(b.startswith(b"\xef\xbb\xbf") for b in raw.values())
    assert any(not b.startswith(b"\xef\xbb\xbf") and b.decode("gb18030") for b in raw.values())


def test_truth_consistency(settings: Settings, city: Path) -> None:
    truth = pd.read_csv(city / "truth" / "cases.csv", dtype=str, keep_default_na=False)
    bad = pd.read_csv(city / "truth" / "bad_rows.csv", dtype=str, keep_default_na=False)
    seen: list[tuple[str, str]] = []
    for source in SOURCES:
        for path in _export_files(city, source):
            header, data, _ = _parse(settings, path, source)
            id_col = next(i for i, h in enumerate(header) if h in settings.mappings[source].fields["source_id"])
            seen += [(source, r[id_col].strip()) for r in data if r and r[0] != "合计" and r[id_col].strip()]
    ids = pd.DataFrame(seen, columns=["source", "source_id"])
    assert not ids.duplicated().any()
    blank = bad[bad["field"] == "source_id"]
    together = pd.concat([ids, pd.DataFrame({"source": [s for s in truth.set_index("source_id").loc[
        blank["source_id"], "source"]], "source_id": blank["source_id"].to_numpy()})])
    assert set(map(tuple, together.to_numpy())) == set(map(tuple, truth[["source", "source_id"]].to_numpy()))
    updates = sorted((city / "updates").glob("*.csv"))
    assert updates
    truth_ids = set(truth["source_id"])
    for path in updates:
        source = next(s for s in SOURCES if ("12345" in path.name and s == "hotline_12345")
                      or ("12328" in path.name and s == "hotline_12328") or ("信访" in path.name and s == "petition_register"))
        header, data, _ = _parse(settings, path, source)
        assert any(h in ("更新时间", "最后更新时间", "最后修改时间") for h in header)
        id_col = next(i for i, h in enumerate(header) if h in settings.mappings[source].fields["source_id"])
        assert {r[id_col] for r in data} <= truth_ids


def test_id_numbers(city: Path) -> None:
    persons = pd.read_csv(city / "truth" / "persons.csv", dtype=str, keep_default_na=False)
    assert persons["id_number"].map(id_is_valid).all()
    assert persons["id_number"].str.startswith("3399").all()
    parties = pd.read_csv(city / "truth" / "parties.csv", dtype=str, keep_default_na=False)
    clean = parties[parties["id_spoil"] == ""]
    assert len(clean) > 100 and clean["written_id"].map(id_is_valid).all()
    spoiled = parties[parties["id_spoil"].isin(["wrong_check", "old15", "fullwidth", "spaces", "lower_x"])]
    assert len(spoiled) > 0 and not spoiled["written_id"].map(id_is_valid).any()


def test_weekday_weekend_bands(city: Path) -> None:
    truth = pd.read_csv(city / "truth" / "cases.csv", dtype=str, keep_default_na=False)
    truth["day"] = pd.to_datetime(truth["received_at"]).dt.normalize()
    days = pd.date_range(truth["day"].min(), truth["day"].max())
    weekend = days.day_of_week >= 5

    def ratio(sel: pd.Series) -> float:
        daily = truth[sel].groupby("day").size().reindex(days, fill_value=0).to_numpy()
        return float(daily[weekend].mean() / daily[~weekend].mean())

    assert 0.28 <= ratio(truth["source"] != "petition_register") <= 0.55
    assert 0.0 <= ratio(truth["channel"].isin(["来信", "来访"])) <= 0.15


def test_people_heavy_tail(city: Path) -> None:
    persons = pd.read_csv(city / "truth" / "persons.csv", dtype=str, keep_default_na=False)
    act = persons["activity"].astype(int)
    act = act[act > 0]
    assert 0.07 <= (act >= 2).mean() <= 0.2
    assert act.max() >= 5


def test_hotline_bulk(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "bulk.csv"
    write_hotline_bulk(settings, path, 2000, seed=1)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(frame) == 2000 and frame["工单编号"].is_unique
    assert set(frame.columns) <= _headers(settings, "hotline_12345")
    assert np.all(frame["来电时间"].str.len() == 19)


def test_escalations_truth(city: Path) -> None:
    """Every province / national case and every group case at the city or above is an escalation row with
    its subject and matter; level rises are rows; some escalations no earlier record foreshadowed."""
    cases = pd.read_csv(city / "truth" / "cases.csv", dtype=str, keep_default_na=False)
    esc = pd.read_csv(city / "truth" / "escalations.csv", dtype=str, keep_default_na=False)
    cases["level"] = cases["level"].astype(int)
    key = ["source", "source_id"]
    assert not esc.duplicated(key).any()
    must = cases[(cases["level"] >= 2) | ((cases["group_id"] != "") & (cases["level"] >= 1))]
    city_esc = esc[esc["city_escalation"] == "True"]
    assert set(map(tuple, must[key].to_numpy())) == set(map(tuple, city_esc[key].to_numpy()))
    assert len(city_esc) >= 10
    m = esc.merge(cases, on=key, suffixes=("", "_case"), validate="one_to_one")
    assert (m["level"].astype(int) == m["level_case"]).all()
    assert (m["matter_id"] == m["matter_id_case"]).all()
    person = m["subject_kind"] == "person"
    assert (m.loc[person, "subject_id"] == m.loc[person, "person_id"]).all()
    assert (m.loc[~person, "subject_id"] == m.loc[~person, "group_id"]).all()
    assert set(m.loc[person, "subject_id"]) <= set(pd.read_csv(city / "truth" / "persons.csv", dtype=str)["person_id"])
    # a level rise is a case above every earlier case of its subject
    cases["subject"] = cases["group_id"].where(cases["group_id"] != "", cases["person_id"])
    t = cases.assign(t=pd.to_datetime(cases["received_at"])).sort_values(["subject", "t", "source", "source_id"])
    before = t.groupby("subject")["level"].cummax().groupby(t["subject"]).shift(1).fillna(0)
    rises = t[t["level"] > before]
    assert set(map(tuple, rises[key].to_numpy())) == set(map(tuple, esc.loc[esc["level_up"] == "True", key].to_numpy()))
    # foreshadowed: an earlier case of the subject at least a week before
    unforeshadowed = city_esc[city_esc["foreshadowed"] == "False"]
    assert 0 < len(unforeshadowed) < len(city_esc) / 2
    assert (unforeshadowed["prior_cases_7d"] == "0").all()
    assert (city_esc.loc[city_esc["foreshadowed"] == "True", "prior_cases_7d"].astype(int) > 0).all()


def test_escalation_is_no_counting_rule(city: Path) -> None:
    """No visit count decides a level: first-ever petitions reach the province too, and repeat visits at
    the same count reach different levels."""
    cases = pd.read_csv(city / "truth" / "cases.csv", dtype=str, keep_default_na=False)
    pet = cases[(cases["source"] == "petition_register") & (cases["group_id"] == "")].copy()
    pet["level"] = pet["level"].astype(int)
    pet["visit_no"] = pet["visit_no"].astype(int)
    assert (pet.loc[pet["visit_no"] == 0, "level"] >= 1).any()
    later = pet[pet["visit_no"] >= 3]
    assert later["level"].nunique() >= 2 and (later["level"] == 0).any()


def test_several_matters_per_person(city: Path) -> None:
    cases = pd.read_csv(city / "truth" / "cases.csv", dtype=str, keep_default_na=False)
    solo = cases[cases["group_id"] == ""]
    per = solo.groupby("person_id").agg(n=("source_id", "size"), matters=("matter_id", "nunique"),
                                        leaves=("category_code", "nunique"))
    many = per[per["matters"] >= 2]
    assert len(many) >= 5 and (many["leaves"] >= 2).any()
    assert (many["n"] >= many["matters"]).all()
    # a matter belongs to one person; within a matter visit_no counts 0, 1, 2, ... in time order
    assert (solo.groupby("matter_id")["person_id"].nunique() == 1).all()
    s = solo.assign(t=pd.to_datetime(solo["received_at"])).sort_values(["matter_id", "t"], kind="stable")
    assert (s["visit_no"].astype(int).to_numpy() == s.groupby("matter_id").cumcount().to_numpy()).all()


def test_groups_grow_and_spread(city: Path) -> None:
    groups = pd.read_csv(city / "truth" / "groups.csv", dtype=str, keep_default_na=False)
    members = pd.read_csv(city / "truth" / "group_members.csv", dtype=str, keep_default_na=False)
    cases = pd.read_csv(city / "truth" / "cases.csv", dtype=str, keep_default_na=False)
    parties = pd.read_csv(city / "truth" / "parties.csv", dtype=str, keep_default_na=False)
    assert (members.groupby("group_id").size() == groups.set_index("group_id")["members"].astype(int)).all()
    assert (groups["members"].astype(int) >= groups["founders"].astype(int)).all()
    assert (groups["members"].astype(int) > groups["founders"].astype(int)).any()
    spans = groups["townships"].str.split(";")
    assert (spans.str.len() >= 2).any()
    # every member's township is among the group's; members named on a group case are its members
    for g, towns in zip(groups["group_id"], spans, strict=True):
        assert set(members.loc[members["group_id"] == g, "township_code"]) <= set(towns)
    gc = cases[cases["group_id"] != ""].merge(parties, on=["source", "source_id"], suffixes=("", "_party"))
    known = set(zip(members["group_id"], members["person_id"], strict=True))
    assert set(zip(gc["group_id"], gc["person_id_party"], strict=True)) <= known
    # a member is named on a case only once they have joined
    joined = members.set_index(["group_id", "person_id"])["joined_at"]
    when = pd.to_datetime(gc["received_at"]).dt.strftime("%Y-%m-%d")
    first_named = joined.reindex(list(zip(gc["group_id"], gc["person_id_party"], strict=True))).to_numpy()
    assert (first_named <= when.to_numpy()).all()


def test_pressure_functions_take_numbers_and_arrays() -> None:
    """The matters loop calls the pressure functions with Python numbers, the vectorized first step with
    arrays: both must agree."""
    from riskwatch.synth import pressure as pr

    rng = np.random.default_rng(3)
    n = 50
    args = (rng.gamma(1.0, 1.0, n), rng.uniform(1, 200, n), rng.gamma(1.0, 0.5, n), rng.random(n) < 0.6,
            rng.random(n) < 0.2, rng.random(n) < 0.1, rng.random(n) < 0.2, rng.random(n) < 0.1,
            rng.random(n) < 0.2, rng.random(n) < 0.1, rng.integers(0, 3, n))
    vec = pr.next_pressure(*args)
    one = [pr.next_pressure(*(a[i].item() for a in args)) for i in range(n)]
    assert np.allclose(vec, one)
    score = pr.level_score(args[0], args[2], args[3], args[10])
    u = rng.random(n)
    assert list(pr.level_from_score(score, u)) == [int(pr.level_from_score(float(s), float(x)))
                                                   for s, x in zip(score, u, strict=True)]
    # more pressure never lowers the chance to come back or the level score
    assert np.all(np.diff(pr.return_probability(np.linspace(0, 5, 20), 0.1)) > 0)
    assert np.all(np.diff(pr.level_score(0.0, np.linspace(0, 5, 20), False, 0)) > 0)
