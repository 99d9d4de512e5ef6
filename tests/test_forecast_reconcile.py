"""Coherent forecasts on a grouped structure: 3 categories x 4 districts, with category totals, district
totals and a grand total."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskwatch import schema as S
from riskwatch.forecast.reconcile import (
    METHODS,
    Hierarchy,
    fit_children_to_parent,
    reconcile,
    reconcile_bounds,
    shrink_covariance,
)

CATS = ("0101", "0203", "0305")
DISTRICTS = ("339901", "339902", "339903", "339904")
H = 4


def grouped() -> Hierarchy:
    bottom = tuple(f"W:{c}:{d}" for c in CATS for d in DISTRICTS)
    aggs: dict[str, tuple[str, ...]] = {"W:*:339900": bottom}
    aggs |= {f"W:{c}:339900": tuple(b for b in bottom if b.split(":")[1] == c) for c in CATS}
    aggs |= {f"W:*:{d}": tuple(b for b in bottom if b.split(":")[2] == d) for d in DISTRICTS}
    return Hierarchy(bottom, aggs)


def steps() -> pd.Index:
    return pd.Index(range(1, H + 1), name="step")


def noisy_base(rng: np.random.Generator, h: Hierarchy) -> pd.DataFrame:
    """Base forecasts of every node: the true sums plus noise, so they do not add up."""
    ids, smat = h.summing_matrix()
    truth = smat @ rng.gamma(3.0, 10.0, (len(h.bottom), H))
    return pd.DataFrame(truth * rng.lognormal(0.0, 0.15, truth.shape), index=ids, columns=steps())


def inputs(rng: np.random.Generator, h: Hierarchy, base: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Variances about proportional to the level (counts), and residuals correlated along the structure."""
    ids, smat = h.summing_matrix()
    variances = base.mean(axis=1).loc[ids] * rng.uniform(0.5, 2.0, len(ids))
    bottom_err = rng.normal(0.0, 1.0, (40, len(h.bottom))) * np.sqrt(base.mean(axis=1).loc[list(h.bottom)]).to_numpy()
    residuals = pd.DataFrame(bottom_err @ smat.T + rng.normal(0.0, 1.0, (40, len(ids))), columns=ids)
    return variances, residuals


def assert_coherent(out: pd.DataFrame, h: Hierarchy) -> None:
    for agg, members in h.aggregates.items():
        np.testing.assert_allclose(out.loc[agg].to_numpy(), out.loc[list(members)].sum().to_numpy(),
                                   atol=1e-6, rtol=0)


def test_summing_matrix_rows_are_sorted_aggregates_then_bottom() -> None:
    h = grouped()
    ids, smat = h.summing_matrix()
    assert ids[:8] == sorted(h.aggregates) and ids[8:] == list(h.bottom)
    assert smat.shape == (20, 12)
    assert smat[ids.index("W:*:339900")].sum() == 12
    assert smat[ids.index("W:0203:339900")].sum() == 4 and smat[ids.index("W:*:339902")].sum() == 3
    np.testing.assert_array_equal(smat[8:], np.eye(12))


@pytest.mark.parametrize("method", METHODS)
def test_every_method_gives_coherent_non_negative_forecasts(method: str) -> None:
    rng = np.random.default_rng(1)
    h = grouped()
    base = noisy_base(rng, h).sample(frac=1.0, random_state=3)   # any row order
    variances, residuals = inputs(rng, h, base)
    out = reconcile(base, h, method, variances=variances, residuals=residuals)
    assert out.index.equals(base.index) and out.columns.equals(base.columns)
    assert_coherent(out, h)
    assert (out.to_numpy() >= 0).all()
    assert out.attrs["method"] == method
    # reconciliation moves forecasts, but not far from the base (a small cell may be pushed to 0)
    assert (np.abs(out - base) <= 0.35 * base + 5.0).to_numpy().all()


@pytest.mark.parametrize("method", METHODS)
def test_coherent_input_is_returned_unchanged(method: str) -> None:
    rng = np.random.default_rng(2)
    h = grouped()
    ids, smat = h.summing_matrix()
    base = pd.DataFrame(smat @ rng.gamma(2.0, 5.0, (12, H)), index=ids, columns=steps())
    variances, residuals = inputs(rng, h, base)
    out = reconcile(base, h, method, variances=variances, residuals=residuals)
    np.testing.assert_allclose(out.to_numpy(), base.to_numpy(), rtol=1e-9, atol=1e-9)
    assert out.attrs["note"] == ""


def test_negative_bottom_values_are_set_to_zero_and_re_aggregated() -> None:
    h = grouped()
    ids, smat = h.summing_matrix()
    base = pd.DataFrame(smat @ np.full((12, H), 10.0), index=ids, columns=steps())
    base.loc["W:0101:339901"] = 0.0
    base.loc["W:0101:339900"] = 0.0        # the category total says much less than its cells
    base.loc["W:*:339901"] = 0.0
    out = reconcile(base, h, "ols")
    assert_coherent(out, h)
    assert (out.to_numpy() >= 0).all()
    assert (out.loc["W:0101:339901"] == 0).all()
    assert "set to 0" in out.attrs["note"]


def test_wls_trusts_the_series_with_small_errors() -> None:
    h = grouped()
    ids, smat = h.summing_matrix()
    base = pd.DataFrame(smat @ np.full((12, H), 10.0), index=ids, columns=steps())
    base.loc["W:*:339900"] = 150.0   # the cells say 120
    precise_total = pd.Series(100.0, index=ids)
    precise_total["W:*:339900"] = 0.01
    vague_total = pd.Series(0.01, index=ids)
    vague_total["W:*:339900"] = 1000.0
    assert reconcile(base, h, "wls", variances=precise_total).loc["W:*:339900"].iloc[0] == pytest.approx(150, abs=0.5)
    assert reconcile(base, h, "wls", variances=vague_total).loc["W:*:339900"].iloc[0] == pytest.approx(120, abs=0.5)


def test_mint_with_too_few_residuals_falls_back_to_wls() -> None:
    rng = np.random.default_rng(4)
    h = grouped()
    base = noisy_base(rng, h)
    variances, residuals = inputs(rng, h, base)
    out = reconcile(base, h, "mint_shrink", variances=variances, residuals=residuals.head(3))
    assert out.attrs["method"] == "wls" and "3 complete residual rows" in out.attrs["note"]
    pd.testing.assert_frame_equal(out, reconcile(base, h, "wls", variances=variances), check_like=False)
    out = reconcile(base, h, "mint_shrink")
    assert out.attrs["method"] == "wls_struct" and "no residuals" in out.attrs["note"]
    assert_coherent(out, h)


def test_bad_inputs_are_refused() -> None:
    rng = np.random.default_rng(5)
    h = grouped()
    base = noisy_base(rng, h)
    with pytest.raises(ValueError, match="missing"):
        reconcile(base.drop(index="W:*:339902"), h, "ols")
    with pytest.raises(ValueError, match="unknown method"):
        reconcile(base, h, "bottom_up")
    with pytest.raises(ValueError, match="needs variances"):
        reconcile(base, h, "wls")
    with pytest.raises(ValueError, match="unknown"):
        Hierarchy(("a", "b"), {"t": ("a", "c")})
    with pytest.raises(ValueError, match="both"):
        Hierarchy(("a", "b"), {"a": ("a", "b")})


def test_larger_structure_is_solved() -> None:
    rng = np.random.default_rng(6)
    bottom = tuple(f"b{i}" for i in range(120))
    aggs = {f"a{j}": tuple(bottom[i] for i in rng.choice(120, 15, replace=False)) for j in range(40)}
    aggs["total"] = bottom
    h = Hierarchy(bottom, aggs)
    ids, smat = h.summing_matrix()
    base = pd.DataFrame(smat @ rng.gamma(3.0, 4.0, (120, 13)) * rng.lognormal(0, 0.1, (len(ids), 13)),
                        index=ids, columns=range(1, 14))
    residuals = pd.DataFrame(rng.normal(size=(30, 120)) @ smat.T, columns=ids)
    out = reconcile(base, h, "mint_shrink", residuals=residuals)
    assert_coherent(out, h)


def test_mint_equals_the_textbook_formula() -> None:
    rng = np.random.default_rng(11)
    h = grouped()
    ids, smat = h.summing_matrix()
    base = noisy_base(rng, h)
    _, residuals = inputs(rng, h, base)
    w = shrink_covariance(residuals[ids].to_numpy())
    w_inv = np.linalg.inv(w)
    g = np.linalg.inv(smat.T @ w_inv @ smat) @ smat.T @ w_inv
    expected = smat @ g @ base.loc[ids].to_numpy()
    out = reconcile(base, h, "mint_shrink", residuals=residuals)
    assert out.attrs["note"] == ""
    np.testing.assert_allclose(out.loc[ids].to_numpy(), expected, rtol=1e-8)


def test_shrunk_covariance_keeps_the_variances_and_shrinks_correlations() -> None:
    rng = np.random.default_rng(10)
    common = rng.normal(size=(50, 1))
    correlated = common + 0.1 * rng.normal(size=(50, 5))
    independent = rng.normal(size=(12, 5))
    for res in (correlated, independent):
        w = shrink_covariance(res)
        cov = res.T @ res / len(res)
        np.testing.assert_allclose(np.diag(w), np.diag(cov))
        np.testing.assert_allclose(w, w.T)
        assert np.linalg.eigvalsh(w).min() > 0
    lam = lambda res: 1 - shrink_covariance(res)[0, 1] / (res.T @ res / len(res))[0, 1]  # noqa: E731
    assert lam(correlated) < 0.1 < lam(independent)


# --- fit_children_to_parent -----------------------------------------------------------------------

def test_children_sum_to_the_parent_and_stay_non_negative() -> None:
    rng = np.random.default_rng(7)
    children = rng.gamma(1.0, 5.0, (6, 13))
    children[0, :4] = 0.0
    parent = children.sum(axis=0) * rng.uniform(0.3, 1.8, 13)
    for variances in (None, rng.uniform(0.5, 5.0, 6), rng.uniform(0.5, 5.0, (6, 13))):
        out = fit_children_to_parent(children, parent, variances)
        assert out.shape == children.shape
        np.testing.assert_allclose(out.sum(axis=0), parent, rtol=1e-12, atol=1e-9)
        assert (out >= 0).all()


def test_gap_is_shared_in_proportion_to_variances() -> None:
    out = fit_children_to_parent(np.array([[10.0], [10.0]]), np.array([26.0]), np.array([1.0, 2.0]))
    np.testing.assert_allclose(out[:, 0], [12.0, 14.0])
    out = fit_children_to_parent(np.array([10.0, 30.0]), np.array([20.0]))   # default: by size
    np.testing.assert_allclose(out, [5.0, 15.0])


def test_children_pushed_below_zero_are_set_to_zero_and_the_rest_redistributed() -> None:
    out = fit_children_to_parent(np.array([[1.0], [10.0], [10.0]]), np.array([8.0]), np.ones(3))
    np.testing.assert_allclose(out[:, 0], [0.0, 4.0, 4.0])


def test_all_zero_children_are_split_equally_or_by_variance() -> None:
    zero = np.zeros((4, 2))
    np.testing.assert_allclose(fit_children_to_parent(zero, np.array([8.0, 2.0])), np.full((4, 2), [2.0, 0.5]))
    out = fit_children_to_parent(zero, np.array([8.0, 2.0]), np.array([1.0, 1.0, 2.0, 4.0]))
    np.testing.assert_allclose(out[:, 0], [1.0, 1.0, 2.0, 4.0])
    np.testing.assert_allclose(fit_children_to_parent(zero, np.zeros(2)), zero)


# --- reconcile_bounds -----------------------------------------------------------------------------

def forecast_frame() -> pd.DataFrame:
    return pd.DataFrame({
        S.SERIES_ID: ["W:0101:339901"] * 4, S.STEP: [1, 2, 3, 4],
        S.YHAT: [10.0, 20.0, 0.0, 4.0],
        S.YHAT_LOWER_80: [7.0, 15.0, 0.0, 2.0], S.YHAT_UPPER_80: [13.0, 26.0, 1.0, 6.0],
        S.YHAT_LOWER_95: [5.0, 12.0, 0.0, 1.0], S.YHAT_UPPER_95: [16.0, 31.0, 2.0, 8.0],
        S.MODEL: "ets",
    })


def test_bounds_move_with_the_reconciled_mean() -> None:
    base = forecast_frame()
    new = pd.Series([12.0, 10.0, 1.5, 0.0], index=base.index)
    out = reconcile_bounds(base, new)
    np.testing.assert_allclose(out[S.YHAT], [12.0, 10.0, 1.5, 0.0])
    # up: lower bounds scaled x1.2, upper bounds shifted +2
    np.testing.assert_allclose(out.loc[0, list(S.INTERVAL_COLUMNS)], [8.4, 15.0, 6.0, 18.0])
    # down: every bound scaled x0.5
    np.testing.assert_allclose(out.loc[1, list(S.INTERVAL_COLUMNS)], [7.5, 13.0, 6.0, 15.5])
    # a zero median lifted: 0 stays inside the interval, upper bounds shifted +1.5
    np.testing.assert_allclose(out.loc[2, list(S.INTERVAL_COLUMNS)], [0.0, 2.5, 0.0, 3.5])
    assert (out.loc[3, [S.YHAT, *S.INTERVAL_COLUMNS]] == 0).all()
    assert (out[S.MODEL] == "ets").all() and out[S.SERIES_ID].equals(base[S.SERIES_ID])


def test_bounds_stay_ordered_and_non_negative() -> None:
    rng = np.random.default_rng(8)
    n = 200
    mean = rng.gamma(1.0, 5.0, n) * (rng.random(n) > 0.2)
    base = pd.DataFrame({S.YHAT: mean, S.YHAT_LOWER_80: mean * 0.7, S.YHAT_UPPER_80: mean * 1.4 + 0.5,
                         S.YHAT_LOWER_95: mean * 0.5, S.YHAT_UPPER_95: mean * 1.8 + 1.0})
    new = pd.Series(np.maximum(mean + rng.normal(0, 3, n), 0), index=base.index)
    out = reconcile_bounds(base, new)
    cols = [S.YHAT_LOWER_95, S.YHAT_LOWER_80, S.YHAT, S.YHAT_UPPER_80, S.YHAT_UPPER_95]
    values = out[cols].to_numpy()
    assert (values >= 0).all() and (np.diff(values, axis=1) >= -1e-12).all()


def test_bounds_need_the_columns_and_a_mean_for_every_row() -> None:
    base = forecast_frame()
    with pytest.raises(ValueError, match="reconcile_bounds: missing column"):
        reconcile_bounds(base.drop(columns=[S.YHAT_UPPER_95]), pd.Series(1.0, index=base.index))
    with pytest.raises(ValueError, match="cover"):
        reconcile_bounds(base, pd.Series([1.0], index=[0]))
