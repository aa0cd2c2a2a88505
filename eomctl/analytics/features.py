"""Early-cycle features for state-of-health and life prediction, and the regularised linear model that uses them.

Two feature families are compared (:mod:`eomctl.analytics.prognostics`):

- **Entropy features** (docs/physics.md §4): the entropy produced per cycle ``Sigma_cycle`` [J/K], its life exponent
  ``lambda_life = d ln(Sigma_cycle) / dn`` [1/cycle] fitted over the early cycles, and the dissipative resistance
  ``R_S = (V - U_bulk) / I_ch`` [Ohm] of a reference charge, whose growth between two early cycles is the
  entropy-side image of resistance growth (``Sigma_dot = I_ch^2 R_S / T``).
- **The Severson et al. 2019 baseline** (Nature Energy 4:383, doi:10.1038/s41560-019-0356-8): ``log10 var(dQ(V))``,
  the variance over voltage of the difference between the discharge-capacity curves ``Q_b(V) - Q_a(V)`` of two early
  cycles (their cycles 10 and 100).

The model is ridge regression in closed form on standardised features, its penalty chosen by exact leave-one-out
error (the hat-matrix identity ``e_loo = e / (1 - h)``), so no scikit-learn is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eomctl.core.errors import EomctlError

ALPHAS = tuple(10.0**k for k in np.arange(-4.0, 3.01, 0.5))  # ridge penalties tried (on standardised features)


def q_of_v(q_ah: Sequence[float], v_v: Sequence[float], grid_v: np.ndarray) -> np.ndarray:
    """Discharged capacity [A.h] as a function of voltage on ``grid_v`` (linear; the curve sorted by voltage)."""
    q, v = np.asarray(q_ah, dtype=float), np.asarray(v_v, dtype=float)
    if q.size != v.size or q.size < 3:
        raise EomctlError(f"a discharge curve needs >= 3 (Q, V) points of equal count; got {q.size} and {v.size}")
    order = np.argsort(v, kind="stable")
    return np.interp(grid_v, v[order], q[order])


def severson_log_var(
    q_a_ah: Sequence[float], v_a_v: Sequence[float], q_b_ah: Sequence[float], v_b_v: Sequence[float], n: int = 1000
) -> float:
    """``log10 var(Q_b(V) - Q_a(V))`` over the voltage range both discharge curves cover (Severson et al. 2019).

    Parameters
    ----------
    q_a_ah, v_a_v : sequence of float
        Discharged capacity [A.h] and voltage [V] of the earlier cycle's discharge.
    q_b_ah, v_b_v : sequence of float
        The same for the later cycle.
    n : int
        Points of the common voltage grid.

    Returns
    -------
    float
        log10 of the variance [log10 A.h^2]; -inf... is avoided: a zero variance gives -30.
    """
    lo = max(float(np.min(v_a_v)), float(np.min(v_b_v)))
    hi = min(float(np.max(v_a_v)), float(np.max(v_b_v)))
    if not hi > lo:
        raise EomctlError("the two discharge curves share no voltage range")
    grid = np.linspace(lo, hi, n)
    dq = q_of_v(q_b_ah, v_b_v, grid) - q_of_v(q_a_ah, v_a_v, grid)
    return float(np.log10(max(float(np.var(dq, ddof=1)), 1e-30)))


def life_exponent(cycles: Sequence[float], entropy_j_per_k: Sequence[float]) -> float:
    """``lambda_life = d ln(Sigma_cycle) / dn`` [1/cycle]: least-squares slope of ln(entropy per cycle) on cycle.

    0 for a cell whose entropy per cycle does not change; > 0 as its resistance grows (docs/physics.md §4).
    """
    n, s = np.asarray(cycles, dtype=float), np.asarray(entropy_j_per_k, dtype=float)
    ok = np.isfinite(n) & np.isfinite(s) & (s > 0)
    if ok.sum() < 2 or np.ptp(n[ok]) == 0:
        raise EomctlError("the life exponent needs entropy of at least two different cycles")
    return float(np.polyfit(n[ok], np.log(s[ok]), 1)[0])


@dataclass(frozen=True)
class Ridge:
    """A fitted ridge model ``y = intercept + ((x - mean) / scale) . coef``."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    alpha: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions for the rows of ``x`` (shape (n, n_features))."""
        z = (np.atleast_2d(np.asarray(x, dtype=float)) - self.mean) / self.scale
        return np.asarray(self.intercept + z @ self.coef, dtype=float)


def _solve(z: np.ndarray, yc: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge coefficients on centred data and the leverages of the rows (intercept included)."""
    gram = z.T @ z + alpha * np.eye(z.shape[1])
    coef = np.linalg.solve(gram, z.T @ yc)
    hat = np.einsum("ij,ij->i", z @ np.linalg.inv(gram), z) + 1.0 / z.shape[0]
    return coef, hat


def fit_ridge(x: np.ndarray, y: np.ndarray, alphas: Sequence[float] = ALPHAS) -> Ridge:
    """Ridge regression on standardised features, the penalty chosen by exact leave-one-out squared error.

    Parameters
    ----------
    x : ndarray, shape (n, n_features)
    y : ndarray, shape (n,)
    alphas : sequence of float
        Penalties to try.

    Returns
    -------
    Ridge
    """
    x, y = np.atleast_2d(np.asarray(x, dtype=float)), np.asarray(y, dtype=float)
    if x.shape[0] != y.size or y.size < 3:
        raise EomctlError(f"ridge needs >= 3 samples with one target each; got x {x.shape}, y {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise EomctlError("ridge features and targets must be finite")
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    z, yc = (x - mean) / scale, y - y.mean()
    best: tuple[float, float] | None = None
    for alpha in alphas:
        coef, hat = _solve(z, yc, alpha)
        loo = float(np.mean(((yc - z @ coef) / np.clip(1.0 - hat, 1e-9, None)) ** 2))
        if best is None or loo < best[0]:
            best = (loo, alpha)
    assert best is not None
    coef, _ = _solve(z, yc, best[1])
    return Ridge(mean, scale, coef, float(y.mean()), best[1])


def cross_predict(x: np.ndarray, y: np.ndarray, groups: Sequence[int] | None = None) -> np.ndarray:
    """Out-of-sample predictions: each group (default each sample) predicted by a ridge fitted on all the others.

    The penalty is chosen again inside every training set (nested), so no test sample informs its own prediction.
    """
    x, y = np.atleast_2d(np.asarray(x, dtype=float)), np.asarray(y, dtype=float)
    g = np.arange(y.size) if groups is None else np.asarray(groups)
    out = np.full(y.size, np.nan)
    for label in np.unique(g):
        test = g == label
        out[test] = fit_ridge(x[~test], y[~test]).predict(x[test])
    return out


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    """Root-mean-square error."""
    return float(np.sqrt(np.mean((np.asarray(pred) - np.asarray(true)) ** 2)))


def mae(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(np.asarray(pred) - np.asarray(true))))


def mape(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean absolute percentage error [%]."""
    p, t = np.asarray(pred, dtype=float), np.asarray(true, dtype=float)
    return float(100.0 * np.mean(np.abs(p - t) / np.abs(t)))
