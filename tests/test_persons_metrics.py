"""Pairwise and B-cubed cluster scores (riskwatch.persons.metrics)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskwatch.persons.metrics import ClusterScores, cluster_scores


def brute_force(predicted: list[int], truth: list[int]) -> dict[str, float]:
    """Every pair enumerated; B-cubed record by record: the definitions, written out."""
    n = len(predicted)
    pred_pairs = {(i, k) for i, k in combinations(range(n), 2) if predicted[i] == predicted[k]}
    true_pairs = {(i, k) for i, k in combinations(range(n), 2) if truth[i] == truth[k]}
    common = pred_pairs & true_pairs
    pp = len(common) / len(pred_pairs) if pred_pairs else 1.0
    pr = len(common) / len(true_pairs) if true_pairs else 1.0
    if n:
        per_p, per_r = [], []
        for i in range(n):
            cp = {k for k in range(n) if predicted[k] == predicted[i]}
            ct = {k for k in range(n) if truth[k] == truth[i]}
            per_p.append(len(cp & ct) / len(cp))
            per_r.append(len(cp & ct) / len(ct))
        bp, br = sum(per_p) / n, sum(per_r) / n
    else:
        bp = br = 1.0
    return {"pair_precision": pp, "pair_recall": pr, "bcubed_precision": bp, "bcubed_recall": br,
            "predicted_pairs": len(pred_pairs), "true_pairs": len(true_pairs), "common_pairs": len(common)}


def f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


# two aligned labelings of the same records, labels drawn from a small set so that clusters form
labelings = st.integers(min_value=0, max_value=25).flatmap(
    lambda n: st.tuples(st.lists(st.integers(0, 6), min_size=n, max_size=n),
                        st.lists(st.integers(0, 6), min_size=n, max_size=n)))


def test_hand_example() -> None:
    # predicted {0,1,2} {3,4}; true {0,1} {2,3,4}
    s = cluster_scores([1, 1, 1, 2, 2], ["a", "a", "b", "b", "b"])
    assert (s.predicted_pairs, s.true_pairs, s.common_pairs) == (4, 4, 2)
    assert s.pair_precision == pytest.approx(0.5)
    assert s.pair_recall == pytest.approx(0.5)
    assert s.pair_f1 == pytest.approx(0.5)
    # B-cubed precision: (2/3 + 2/3 + 1/3 + 1 + 1) / 5 = 11/15; recall: (1 + 1 + 1/3 + 2/3 + 2/3) / 5
    assert s.bcubed_precision == pytest.approx(11 / 15)
    assert s.bcubed_recall == pytest.approx(11 / 15)
    assert s.bcubed_f1 == pytest.approx(11 / 15)


def test_hand_example_asymmetric() -> None:
    # predicted {0,1,2,3} {4}; true {0,1} {2} {3,4}: one over-merged cluster
    s = cluster_scores([7, 7, 7, 7, 8], [0, 0, 1, 2, 2])
    assert (s.predicted_pairs, s.true_pairs, s.common_pairs) == (6, 2, 1)
    assert s.pair_precision == pytest.approx(1 / 6)
    assert s.pair_recall == pytest.approx(1 / 2)
    assert s.pair_f1 == pytest.approx(f1(1 / 6, 1 / 2))
    # precision per record: 2/4, 2/4, 1/4, 1/4, 1/1; recall: 1, 1, 1, 1/2, 1/2
    assert s.bcubed_precision == pytest.approx((0.5 + 0.5 + 0.25 + 0.25 + 1) / 5)
    assert s.bcubed_recall == pytest.approx(4 / 5)
    assert s.bcubed_f1 == pytest.approx(f1(0.5, 0.8))


def test_everything_merged_against_singletons() -> None:
    s = cluster_scores([0, 0, 0, 0], [1, 2, 3, 4])
    assert (s.pair_precision, s.pair_recall, s.pair_f1) == (0.0, 1.0, 0.0)   # no true pair: recall 1
    assert s.bcubed_precision == pytest.approx(0.25)
    assert s.bcubed_recall == 1.0
    assert s.bcubed_f1 == pytest.approx(0.4)


def test_singletons_against_one_person() -> None:
    s = cluster_scores([1, 2, 3, 4], [0, 0, 0, 0])
    assert (s.pair_precision, s.pair_recall, s.pair_f1) == (1.0, 0.0, 0.0)   # no predicted pair: precision 1
    assert s.bcubed_precision == 1.0
    assert s.bcubed_recall == pytest.approx(0.25)
    assert s.bcubed_f1 == pytest.approx(0.4)


def test_no_pairs_anywhere_and_no_records_score_one() -> None:
    assert cluster_scores([1, 2, 3], ["x", "y", "z"]) == ClusterScores(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0, 0, 0)
    assert cluster_scores([], []) == ClusterScores(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0, 0, 0)


@settings(max_examples=300, deadline=None)
@given(labelings)
def test_matches_brute_force(pair: tuple[list[int], list[int]]) -> None:
    predicted, truth = pair
    s = cluster_scores(predicted, truth)
    b = brute_force(predicted, truth)
    assert (s.predicted_pairs, s.true_pairs, s.common_pairs) == (
        b["predicted_pairs"], b["true_pairs"], b["common_pairs"])
    for name in ("pair_precision", "pair_recall", "bcubed_precision", "bcubed_recall"):
        assert getattr(s, name) == pytest.approx(b[name]), name
    assert s.pair_f1 == pytest.approx(f1(b["pair_precision"], b["pair_recall"]))
    assert s.bcubed_f1 == pytest.approx(f1(b["bcubed_precision"], b["bcubed_recall"]))


@settings(max_examples=200, deadline=None)
@given(labelings, st.randoms(use_true_random=False))
def test_invariant_to_relabeling_and_record_order(pair: tuple[list[int], list[int]], rnd) -> None:
    predicted, truth = pair
    base = cluster_scores(predicted, truth)
    # relabel both sides with a bijection onto other values (and types)
    p_map = {v: f"p{v * 31 + 5}" for v in set(predicted)}
    t_map = {v: (v + 1) * 1000 for v in set(truth)}
    relabeled = cluster_scores([p_map[v] for v in predicted], [t_map[v] for v in truth])
    order = list(range(len(predicted)))
    rnd.shuffle(order)
    shuffled = cluster_scores([predicted[i] for i in order], [truth[i] for i in order])
    for other in (relabeled, shuffled):
        assert (other.predicted_pairs, other.true_pairs, other.common_pairs) == (
            base.predicted_pairs, base.true_pairs, base.common_pairs)
        for name in ("pair_precision", "pair_recall", "pair_f1", "bcubed_precision", "bcubed_recall",
                     "bcubed_f1"):
            assert getattr(other, name) == pytest.approx(getattr(base, name)), name


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 8), max_size=40))
def test_perfect_clustering_scores_one(truth: list[int]) -> None:
    s = cluster_scores([f"c{v}" for v in truth], truth)
    assert (s.pair_precision, s.pair_recall, s.pair_f1) == (1.0, 1.0, 1.0)
    assert s.bcubed_precision == pytest.approx(1.0)
    assert s.bcubed_recall == pytest.approx(1.0)
    assert s.bcubed_f1 == pytest.approx(1.0)
    assert s.common_pairs == s.true_pairs == s.predicted_pairs


def test_input_types_are_equivalent() -> None:
    predicted = ["P1", "P1", "P2", "P3", "P3", "P3"]
    truth = [10, 10, 10, 20, 20, 30]
    expected = cluster_scores(predicted, truth)
    # a Series with a non-default index is aligned by position
    as_series = cluster_scores(pd.Series(predicted, index=[5, 4, 3, 2, 1, 0], dtype="string"),
                               pd.Series(truth))
    as_arrays = cluster_scores(np.array(predicted, dtype=object), np.array(truth, dtype=np.int64))
    as_index = cluster_scores(pd.Index(predicted), tuple(truth))
    assert as_series == as_arrays == as_index == expected


def test_mixed_label_types_are_distinct() -> None:
    # 1 and "1" are different clusters (no string conversion)
    s = cluster_scores([1, "1"], ["a", "a"])
    assert s.predicted_pairs == 0 and s.pair_recall == 0.0


def test_rejects_missing_labels_and_misaligned_lengths() -> None:
    with pytest.raises(ValueError, match="missing"):
        cluster_scores([1, None, 2], [1, 1, 2])
    with pytest.raises(ValueError, match="missing"):
        cluster_scores(np.array([1.0, 2.0]), np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="3 predicted labels but 2 true"):
        cluster_scores([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="one-dimensional"):
        cluster_scores(np.zeros((2, 2)), [1, 2])


def test_a_million_records_are_scored_from_the_contingency_table() -> None:
    rng = np.random.default_rng(5)
    n = 1_000_000
    truth = rng.integers(0, 300_000, n)
    predicted = truth.copy()
    predicted[:10_000] = rng.integers(300_000, 310_000, 10_000)     # split some records off
    predicted[truth % 97 == 0] = 0                                   # merge some persons into one
    s = cluster_scores(predicted, truth.astype(str))   # no pair enumeration (speed: benchmarks, not here)
    b = np.bincount(truth)
    assert s.true_pairs == int((b * (b - 1) // 2).sum())
    assert 0.0 < s.pair_precision < 1.0 and 0.0 < s.pair_recall < 1.0
