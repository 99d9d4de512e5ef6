"""Identity resolution (pure core) on the small synthetic city's parties plus hand-made hard cases:
common names, families sharing a phone, anonymous callers, a mistyped check digit, row order; analysts'
constraints (a manual split, a forced join); incremental runs against persons already resolved."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import ingest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskwatch.identity import id_check_digit
from riskwatch.persons.blocking import candidate_pairs
from riskwatch.persons.clustering import ConstraintConflict, Constraints
from riskwatch.persons.features import FEATURE_COLUMNS, party_features
from riskwatch.persons.fellegi_sunter import Model
from riskwatch.persons.linkage import PERSON_ID, LinkageOptions, Resolution, resolve, resolve_incremental
from riskwatch.persons.metrics import cluster_scores
from riskwatch.store import make_engine, make_session
from riskwatch.store.persons import load_party_records

COLUMNS = ["record_id", "name", "id_number", "phone", "address", "district"]


def with_check(first17: str) -> str:
    return first17 + id_check_digit(first17)


HARD = pd.DataFrame([
    # two different 张伟 in the same district, no ID, different phones and addresses: two persons
    ("h01", "张伟", None, "13900001111", "东湖区康明街道幸福路12号", "339902", "ZW-A"),
    ("h02", "张伟", None, "13700002222", "东湖区港港街道滨江路88号", "339902", "ZW-B"),
    # a father and a son sharing the family phone and address: two persons
    ("h03", "王建国", with_check("33990219650312201"), "13811112222", "东湖区康明街道和平路5号3栋2单元501室",
     "339902", "WJG"),
    ("h04", "王小明", with_check("33990219950607203"), "13811112222", "东湖区康明街道和平路5号3幢2单元501",
     "339902", "WXM"),
    # the father again: the ID written with a wrong check digit, the name with a space
    ("h05", "王 建国", "33990219650312201" + ("0" if id_check_digit("33990219650312201") != "0" else "1"),
     "13811112222", "和平路5号3栋2单元501室", "339902", "WJG"),
    # anonymous and surname-only callers with different phones: never one person by the name
    ("h06", "王先生", None, "13511110001", None, "339902", "ANON-1"),
    ("h07", "王先生", None, "13511110002", None, "339902", "ANON-2"),
    ("h08", "匿名", None, "13511110003", None, "339902", "ANON-3"),
    ("h09", "匿名", None, "13511110004", None, "339902", "ANON-4"),
], columns=[*COLUMNS, "person_id"])


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory, small_config: Path, small_city: Path) -> pd.DataFrame:
    url = f"sqlite:///{tmp_path_factory.mktemp('persons')}/p.db"
    assert ingest(small_config, url, small_city).exit_code == 0
    engine = make_engine(url)
    with make_session(engine) as session:
        rec = load_party_records(session)   # as `riskwatch persons` reads them
    engine.dispose()
    truth = pd.read_csv(small_city / "truth" / "parties.csv", dtype=str)
    truth["record_id"] = truth["source"] + ":" + truth["source_id"] + ":" + truth["seq"]
    rec = rec.merge(truth[["record_id", "person_id"]], on="record_id")
    return pd.concat([rec[[*COLUMNS, "person_id"]], HARD], ignore_index=True)


@pytest.fixture(scope="module")
def feats(records: pd.DataFrame) -> pd.DataFrame:
    return party_features(records[COLUMNS])


@pytest.fixture(scope="module")
def full(feats: pd.DataFrame) -> Resolution:
    return resolve(feats)


@pytest.fixture(scope="module")
def resolved(records: pd.DataFrame, full: Resolution) -> pd.Series:
    return pd.Series(full.labels, index=records["record_id"].to_numpy())


def test_the_synthetic_city_is_resolved_accurately(records: pd.DataFrame, resolved: pd.Series) -> None:
    scores = cluster_scores(resolved.to_numpy(), records["person_id"].to_numpy())
    assert scores.pair_precision > 0.95 and scores.pair_recall > 0.85


def test_a_common_name_in_one_district_is_not_one_person(resolved: pd.Series) -> None:
    assert resolved["h01"] != resolved["h02"]


def test_a_family_sharing_a_phone_stays_two_persons(resolved: pd.Series) -> None:
    assert resolved["h03"] != resolved["h04"]


def test_a_wrong_check_digit_and_a_stray_space_still_find_the_person(resolved: pd.Series) -> None:
    assert resolved["h05"] == resolved["h03"]


def test_anonymous_and_surname_only_callers_are_never_merged_by_the_name(resolved: pd.Series) -> None:
    anonymous = resolved[["h06", "h07", "h08", "h09"]]
    assert anonymous.nunique() == 4


def test_the_result_does_not_depend_on_row_order(records: pd.DataFrame, resolved: pd.Series) -> None:
    shuffled = records.sample(frac=1.0, random_state=3).reset_index(drop=True)
    labels = resolve(party_features(shuffled[COLUMNS])).labels
    again = pd.Series(labels, index=shuffled["record_id"].to_numpy()).reindex(resolved.index)
    assert (again == resolved).all()


def test_blocking_keeps_the_pairs_of_the_same_person(records: pd.DataFrame) -> None:
    feats = party_features(records[COLUMNS])
    pairs, _ = candidate_pairs(feats, LinkageOptions().max_block)
    person = records["person_id"].to_numpy()
    same = person[pairs["left"]] == person[pairs["right"]]
    counts = records["person_id"].value_counts()
    true_pairs = int((counts * (counts - 1) // 2).sum())
    assert same.sum() / true_pairs > 0.9, "blocking loses less than a tenth of the true pairs"
    assert len(pairs) < 50 * len(records), "and does not compare everything with everything"
    assert np.all(pairs["left"] < pairs["right"])


def test_confidence_is_a_probability_and_certain_for_persons_of_one_record(full: Resolution) -> None:
    assert full.confidence.shape == full.labels.shape
    assert np.all((full.confidence >= 0) & (full.confidence <= 1))
    size = pd.Series(full.labels).map(pd.Series(full.labels).value_counts()).to_numpy()
    assert np.all(full.confidence[size == 1] == 1.0)
    assert np.all(full.confidence[size > 1] >= LinkageOptions().threshold)
    assert full.merged == {} and full.pairs > 0


def test_the_model_round_trips_through_json(full: Resolution) -> None:
    again = Model.from_dict(json.loads(json.dumps(full.model.to_dict())))
    assert again.prior == full.model.prior
    for f in full.model.m:
        np.testing.assert_array_equal(again.m[f], full.model.m[f])
        np.testing.assert_array_equal(again.u[f], full.model.u[f])
    with pytest.raises(ValueError, match="no field 'id'"):
        Model.from_dict({"prior": 0.5, "m": {}, "u": {}})
    broken = full.model.to_dict()
    broken["u"]["name"] = [0.5, 0.5]
    with pytest.raises(ValueError, match="u\\['name'\\] has 2 levels"):
        Model.from_dict(broken)


# --- analysts' constraints -----------------------------------------------------------------------
def test_a_manual_split_survives_a_rerun(records: pd.DataFrame, feats: pd.DataFrame, resolved: pd.Series) -> None:
    sizes = resolved.value_counts()
    person = sizes.index[(sizes >= 3).to_numpy()][0]          # a person the scores hold together
    members = sorted(resolved.index[resolved == person])
    side_a, side_b = frozenset(members[:1]), frozenset(members[1:])
    again = pd.Series(resolve(feats, constraints=Constraints(cannot_link=((side_a, side_b),))).labels,
                      index=resolved.index)
    assert set(again[list(side_a)]).isdisjoint(set(again[list(side_b)]))
    assert again[list(side_b)].nunique() == 1, "the rest of the person stays together"
    others = resolved.index.difference(members)
    assert (again[others] == resolved[others]).mean() > 0.999, "and nobody else moves"


def test_a_must_link_joins_two_records_the_scores_keep_apart(feats: pd.DataFrame, resolved: pd.Series) -> None:
    assert resolved["h01"] != resolved["h02"]
    res = resolve(feats, constraints=Constraints(must_link=(("h01", "h02"),)))
    again = pd.Series(res.labels, index=resolved.index)
    conf = pd.Series(res.confidence, index=resolved.index)
    assert again["h01"] == again["h02"] == "h01"
    assert conf["h01"] == conf["h02"] == 1.0


def test_a_must_link_across_a_split_is_a_conflict(feats: pd.DataFrame) -> None:
    constraints = Constraints(must_link=(("h03", "h04"),),
                              cannot_link=((frozenset({"h03"}), frozenset({"h04"})),))
    with pytest.raises(ConstraintConflict, match="h03"):
        resolve(feats, constraints=constraints)


def test_constraints_on_unknown_records_are_ignored(feats: pd.DataFrame, resolved: pd.Series) -> None:
    constraints = Constraints(must_link=(("nobody", "h01"),),
                              cannot_link=((frozenset({"nobody"}), frozenset({"h03"})),))
    again = resolve(feats, constraints=constraints).labels
    assert (again == resolved.to_numpy()).all()


# --- incremental ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def holdout(records: pd.DataFrame, feats: pd.DataFrame) -> dict[str, object]:
    """The city resolved without a random tenth of its records (and without the hard cases)."""
    rng = np.random.default_rng(5)
    city = ~records["record_id"].isin(HARD["record_id"]).to_numpy()
    new = city & (rng.random(len(records)) < 0.1)
    known = city & ~new
    res = resolve(feats.loc[known])
    known_feats = feats.loc[known].assign(**{PERSON_ID: res.labels}).reset_index(drop=True)
    return {"known": known_feats, "new": feats.loc[new].reset_index(drop=True), "model": res.model,
            "truth": records["person_id"].to_numpy(), "known_mask": known, "new_mask": new}


def test_incremental_is_about_as_accurate_as_a_full_run(records: pd.DataFrame, feats: pd.DataFrame,
                                                        holdout: dict) -> None:
    known, new = holdout["known"], holdout["new"]
    inc = resolve_incremental(known, new, holdout["model"])
    assert inc.labels.shape == (len(new),) and inc.confidence.shape == (len(new),)
    assert inc.pairs > 0
    both = holdout["known_mask"] | holdout["new_mask"]
    truth = np.concatenate([holdout["truth"][holdout["known_mask"]], holdout["truth"][holdout["new_mask"]]])
    labels = np.concatenate([known[PERSON_ID].to_numpy(dtype=object), inc.labels.astype(object)])
    incremental = cluster_scores(labels, truth).pair_f1
    full = cluster_scores(resolve(feats.loc[both]).labels, holdout["truth"][both]).pair_f1
    assert incremental > full - 0.01, (incremental, full)
    joined = np.isin(inc.labels, known[PERSON_ID].to_numpy())
    assert joined.any() and (~joined).any(), "some new records join known persons, some start new ones"
    fresh = inc.labels[~joined]
    assert np.isin(fresh, new["record_id"].to_numpy()).all(), "a new person is labelled by a record id"


def test_incremental_labels_do_not_depend_on_the_order_of_new(holdout: dict) -> None:
    known, new = holdout["known"], holdout["new"]
    base = pd.Series(resolve_incremental(known, new, holdout["model"]).labels, index=new["record_id"])
    shuffled = new.sample(frac=1.0, random_state=8).reset_index(drop=True)
    again = resolve_incremental(known.sample(frac=1.0, random_state=9), shuffled, holdout["model"])
    assert (pd.Series(again.labels, index=shuffled["record_id"]).reindex(base.index) == base).all()


@pytest.fixture(scope="module")
def city_known(records: pd.DataFrame, feats: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, Model]:
    """The city resolved as known persons, and the hard cases as new records."""
    hard = records["record_id"].isin(HARD["record_id"]).to_numpy()
    res = resolve(feats.loc[~hard])
    known = feats.loc[~hard].assign(**{PERSON_ID: res.labels}).reset_index(drop=True)
    return known, feats.loc[hard].reset_index(drop=True), res.model


@settings(max_examples=15, deadline=None)
@given(order=st.permutations(range(len(HARD))))
def test_the_hard_cases_arrive_in_any_order_with_the_same_result(
        city_known: tuple[pd.DataFrame, pd.DataFrame, Model], order: list[int]) -> None:
    known, new, model = city_known
    base = pd.Series(resolve_incremental(known, new, model).labels, index=new["record_id"])
    shuffled = new.iloc[list(order)].reset_index(drop=True)
    got = pd.Series(resolve_incremental(known, shuffled, model).labels, index=shuffled["record_id"])
    assert (got.reindex(base.index) == base).all()
    assert base["h05"] == base["h03"] != base["h04"]
    assert base["h01"] != base["h02"]
    assert base[["h06", "h07", "h08", "h09"]].nunique() == 4


def _people(rows: list[tuple[str, str, str | None, str | None, str | None, str]]) -> pd.DataFrame:
    """Features of hand-made records ``(record_id, name, id_number, phone, address, person_id)``."""
    frame = pd.DataFrame(rows, columns=["record_id", "name", "id_number", "phone", "address", PERSON_ID])
    return party_features(frame.assign(district="339902")).assign(**{PERSON_ID: frame[PERSON_ID]})


LI = with_check("33990219800101301")
LI_OTHER = with_check("33990219800101402")


def test_a_new_record_bridging_two_known_persons_merges_them(city_known: tuple) -> None:
    known, _, model = city_known
    mine = _people([("k1", "李明远", None, "13912340001", "东湖区康明街道幸福路1号", "PA"),
                    ("k2", "李明远", LI, "13912349999", None, "PB"),
                    ("n1", "李明远", LI, "13912340001", None, "")])
    allknown = pd.concat([known, mine.iloc[:2]], ignore_index=True)
    res = resolve_incremental(allknown, mine.iloc[2:][list(FEATURE_COLUMNS)], model)
    assert res.labels.tolist() == ["PA"]
    assert res.merged == {"PB": "PA"}
    assert 0.95 <= res.confidence[0] <= 1.0


def test_two_known_persons_with_different_ids_are_not_merged(city_known: tuple) -> None:
    known, _, model = city_known
    mine = _people([("k1", "李明远", LI_OTHER, "13912340001", None, "PA"),
                    ("k2", "李明远", LI, "13912349999", None, "PB"),
                    ("n1", "李明远", LI, "13912340001", None, "")])
    res = resolve_incremental(pd.concat([known, mine.iloc[:2]], ignore_index=True),
                              mine.iloc[2:][list(FEATURE_COLUMNS)], model)
    assert res.labels.tolist() == ["PB"], "the new record joins the person of its own ID number"
    assert res.merged == {}


def test_a_manual_split_holds_in_an_incremental_run(city_known: tuple) -> None:
    known, _, model = city_known
    mine = _people([("k2", "李明远", LI, "13912349999", None, "PB"),
                    ("n1", "李明远", LI, "13912340001", None, ""),
                    ("n2", "李明远", LI, "13912340001", None, "")])
    allknown = pd.concat([known, mine.iloc[:1]], ignore_index=True)
    new = mine.iloc[1:][list(FEATURE_COLUMNS)]
    assert resolve_incremental(allknown, new, model).labels.tolist() == ["PB", "PB"]
    split = Constraints(cannot_link=((frozenset({"k2"}), frozenset({"n1"})),))
    assert resolve_incremental(allknown, new, model, constraints=split).labels.tolist() == ["n1", "n1"]
    must = Constraints(must_link=(("n2", "k2"),), cannot_link=split.cannot_link)
    assert resolve_incremental(allknown, new, model, constraints=must).labels.tolist() == ["n1", "PB"]


def test_incremental_refuses_record_ids_already_known(city_known: tuple) -> None:
    known, _, model = city_known
    with pytest.raises(ValueError, match="already known"):
        resolve_incremental(known, known.iloc[:1][list(FEATURE_COLUMNS)], model)


def test_a_caller_giving_only_a_surname_does_not_chain_father_and_son() -> None:
    """王先生 on the family phone links to the father (0.99) and to the son (0.98): without the cluster
    rule the chain makes them one person; with it the son stays apart, unless an ID number ties them."""
    from riskwatch.persons.clustering import NameRule, cluster

    pairs = pd.DataFrame({"left": [0, 1], "right": [1, 2]})        # 王建国–王先生, 王先生–王小明
    gamma = pd.DataFrame({"id": [-1, -1], "phone": [0, 0], "name": [-1, -1], "address": [0, 0],
                          "district": [0, 0]})
    prob = np.array([0.99, 0.98])
    names = NameRule(code=np.array([0, -1, 1]), compatible=lambda x, y: x == y)
    ids = ["h03", "h10", "h04"]
    assert list(cluster(ids, ["", "", ""], pairs, prob, gamma, 0.95)) == ["h03", "h03", "h03"]
    assert list(cluster(ids, ["", "", ""], pairs, prob, gamma, 0.95, names=names)) == ["h03", "h03", "h04"]
    tied = cluster(ids, ["X", "", "X"], pairs, prob, gamma, 0.95, names=names)   # one valid ID number
    assert list(tied) == ["h03", "h03", "h03"]
