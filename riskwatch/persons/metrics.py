"""Scores of a clustering of records against the true clustering (pure): pairwise and B-cubed.

Identity resolution is judged by how well its persons (clusters of party records) agree with the true
persons. Two standard views, both computed here from the contingency table of (predicted, true) labels,
never by enumerating pairs, so that a million records score in about a second:

- **Pairwise**: a pair of records is *positive* when both records are in the same cluster. With
  ``predicted_pairs`` the pairs joined by the prediction, ``true_pairs`` those of the truth and
  ``common_pairs`` those joined by both: precision = common / predicted, recall = common / true.
  A cluster of ``n`` records holds ``n (n - 1) / 2`` pairs, so with ``n_ij`` the records in predicted
  cluster ``i`` and true cluster ``j``: common = Σ n_ij (n_ij - 1) / 2. Large clusters dominate
  (pairs grow with the square of the size): one wrongly merged pair of big clusters costs a lot.
- **B-cubed** (Bagga & Baldwin 1998): per record, precision = |C_pred ∩ C_true| / |C_pred| and recall =
  |C_pred ∩ C_true| / |C_true| (each record counted in its own clusters), averaged over the records:
  precision = (1/N) Σ_ij n_ij² / a_i, recall = (1/N) Σ_ij n_ij² / b_j with ``a_i``, ``b_j`` the sizes of
  the predicted and true clusters. Every record weighs the same, so singletons count as much as members
  of big clusters.

F1 is the harmonic mean of precision and recall (of the averages, for B-cubed).

Conventions for the degenerate cases:

- no predicted pairs (every record alone): pairwise precision is 1.0 (no false link was made);
  no true pairs: pairwise recall is 1.0 (no link was missed). Both empty: 1.0 everywhere.
- F1 is 0.0 when precision and recall are both 0.
- no records at all: every score is 1.0 and every count 0 (nothing was got wrong).
- the two label sequences are aligned by position (a Series' index is ignored); labels are compared by
  equality only, so their values and types do not matter (``1`` and ``"1"`` are different labels), nor
  does the order of the records (permuted alike on both sides);
- a missing label (None / NaN) is an error, since it is neither a cluster of its own nor a shared one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

Labels = Sequence[Any] | np.ndarray | pd.Series | pd.Index


@dataclass(frozen=True)
class ClusterScores:
    """Pairwise and B-cubed precision / recall / F1 of a predicted clustering, and the pair counts."""

    pair_precision: float
    pair_recall: float
    pair_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    true_pairs: int
    predicted_pairs: int
    common_pairs: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _codes(labels: Labels, what: str) -> np.ndarray:
    """Dense integer codes 0..k-1 of ``labels`` (one per record); raises on a missing label."""
    if isinstance(labels, pd.Series | pd.Index):
        values: Any = labels.array
    elif isinstance(labels, np.ndarray):
        if labels.ndim != 1:
            raise ValueError(f"cluster_scores: {what} must be one-dimensional, got shape {labels.shape}")
        values = labels
    else:
        values = pd.Series(list(labels), dtype=object) if len(labels) else np.empty(0, dtype=np.int64)
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    if (codes < 0).any():
        raise ValueError(f"cluster_scores: {what} has {int((codes < 0).sum())} missing labels")
    return codes.astype(np.int64, copy=False)


def _pairs(sizes: np.ndarray) -> int:
    s = sizes.astype(np.int64, copy=False)
    return int((s * (s - 1) // 2).sum())


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def _table(predicted: Labels, truth: Labels) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n_ij, i, j, a, b``: the non-empty cells of the contingency table (count ``n_ij`` of records in
    predicted cluster ``i`` and true cluster ``j``) and the cluster sizes ``a`` (predicted), ``b`` (true)."""
    p = _codes(predicted, "predicted")
    t = _codes(truth, "truth")
    if len(p) != len(t):
        raise ValueError(f"cluster_scores: {len(p)} predicted labels but {len(t)} true labels")
    if len(p) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty, empty, empty
    a = np.bincount(p)
    b = np.bincount(t)
    k = np.int64(len(b))
    cell, n_ij = np.unique(p * k + t, return_counts=True)
    i, j = np.divmod(cell, k)
    return n_ij.astype(np.int64), i, j, a, b


def cluster_scores(predicted: Labels, truth: Labels) -> ClusterScores:
    """Pairwise and B-cubed scores of ``predicted`` against ``truth``, two aligned sequences of cluster
    labels (one per record, any hashable values). See the module docstring for the definitions and the
    conventions for empty cases."""
    n_ij, i, j, a, b = _table(predicted, truth)
    n = int(n_ij.sum())
    if n == 0:
        return ClusterScores(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0, 0, 0)
    common = _pairs(n_ij)
    predicted_pairs = _pairs(a)
    true_pairs = _pairs(b)
    pp = common / predicted_pairs if predicted_pairs else 1.0
    pr = common / true_pairs if true_pairs else 1.0
    sq = n_ij.astype(np.float64) ** 2
    bp = float((sq / a[i]).sum() / n)
    br = float((sq / b[j]).sum() / n)
    return ClusterScores(
        pair_precision=float(pp), pair_recall=float(pr), pair_f1=_f1(pp, pr),
        bcubed_precision=bp, bcubed_recall=br, bcubed_f1=_f1(bp, br),
        true_pairs=true_pairs, predicted_pairs=predicted_pairs, common_pairs=common,
    )
