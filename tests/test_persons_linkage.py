"""Identity resolution (pure core) on the small synthetic city's parties plus hand-made hard cases:
common names, families sharing a phone, anonymous callers, a mistyped check digit, row order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_helpers import ingest
from riskwatch.ingest.identity import id_check_digit
from riskwatch.persons.features import party_features
from riskwatch.persons.linkage import LinkageOptions, candidate_pairs, resolve
from riskwatch.persons.metrics import cluster_scores
from riskwatch.store import load_cases, load_parties, make_engine, make_session

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
        parties = load_parties(session)
        cases = load_cases(session, columns=["source", "source_id", "region_code"])
    engine.dispose()
    rec = parties.merge(cases.rename(columns={"region_code": "case_region"}), on=["source", "source_id"])
    rec["district"] = rec["case_region"].fillna("").str[:6]
    rec["record_id"] = rec["source"] + ":" + rec["source_id"] + ":" + rec["seq"].astype(str)
    truth = pd.read_csv(small_city / "truth" / "parties.csv", dtype=str)
    truth["record_id"] = truth["source"] + ":" + truth["source_id"] + ":" + truth["seq"]
    rec = rec.merge(truth[["record_id", "person_id"]], on="record_id")
    return pd.concat([rec[[*COLUMNS, "person_id"]], HARD], ignore_index=True)


@pytest.fixture(scope="module")
def resolved(records: pd.DataFrame) -> pd.Series:
    labels, _, _ = resolve(party_features(records[COLUMNS]))
    return pd.Series(labels, index=records["record_id"].to_numpy())


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
    labels, _, _ = resolve(party_features(shuffled[COLUMNS]))
    again = pd.Series(labels, index=shuffled["record_id"].to_numpy()).reindex(resolved.index)
    assert (again == resolved).all()


def test_blocking_keeps_the_pairs_of_the_same_person(records: pd.DataFrame) -> None:
    feats = party_features(records[COLUMNS])
    pairs, _ = candidate_pairs(feats, LinkageOptions())
    person = records["person_id"].to_numpy()
    same = person[pairs["left"]] == person[pairs["right"]]
    counts = records["person_id"].value_counts()
    true_pairs = int((counts * (counts - 1) // 2).sum())
    assert same.sum() / true_pairs > 0.9, "blocking loses less than a tenth of the true pairs"
    assert len(pairs) < 50 * len(records), "and does not compare everything with everything"
    assert np.all(pairs["left"] < pairs["right"])
