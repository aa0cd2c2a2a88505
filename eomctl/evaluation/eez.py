"""The charge-time / entropy / degradation Pareto front of charging protocols, and the Entropy Efficiency Zone (EEZ).

At equal charge time (see docs/physics.md, where the gains are), entropy-optimal charging beats CC-CV by only 0.3-3 %,
so charge time is the dominant lever and a protocol is judged by where it sits against the front of all three objectives
(all minimised):

| objective | column | unit |
|---|---|---|
| charge time to the target SOC | ``charge_time_s`` | s |
| entropy produced, Sigma | ``entropy_j_per_k`` | J/K |
| degradation per charge: lithium lost for good (LLI after a 30 min rest) | ``irreversible_lli_pct`` | % |

The EEZ is the near-Pareto region: the points within a small relative slack of some front point (epsilon-dominance,
Laumanns et al. 2002, doi:10.1162/106365602760234108).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from eomctl.core.errors import ConfigError
from eomctl.core.resources import DATA_DIR

# The degradation objective is the irreversible lithium loss, not LLI at the charge's end: most end-of-charge LLI in a
# cold charge is plated lithium that strips back in the rest that follows any real charge, so an end-of-charge figure
# would favour a profile that ends gently over one that plates less (docs/plating.md).
OBJECTIVES: tuple[str, ...] = ("charge_time_s", "entropy_j_per_k", "irreversible_lli_pct")


# Default EEZ slack per objective, relative (see :func:`eez_distance` for why these values).
DEFAULT_EPS: tuple[float, ...] = (0.02, 0.05, 0.05)
# Sweep points closer than this (relative) count as equal on the front: the simulator integrates with rtol = atol = 1e-6
# and its limit searches stop at similar tolerances, so e.g. CC-CV 2C and a non-binding CC-CO differ by ~2e-7.
FRONT_RTOL = 1e-6


def pareto_mask(points: np.ndarray, rtol: float = 0.0) -> np.ndarray:
    """Which points are non-dominated when every objective is minimised.

    A point p dominates q when p_i <= q_i for every objective and p_i < q_i for at least one. Equal points do not
    dominate each other, so duplicates on the front are all kept. Rows with a non-finite value are never on the front.
    With ``rtol > 0``, p must be no worse than q within ``rtol * |q_i|`` everywhere and better by more than that
    somewhere, so points that differ only by solver noise count as duplicates.

    Parameters
    ----------
    points : ndarray, shape (n, k) or (n,)
        n points in k objectives; a 1-D array is n points in one objective.
    rtol : float
        Relative tolerance of the comparison (0: exact).

    Returns
    -------
    ndarray of bool, shape (n,)
        True for the non-dominated points.
    """
    p = np.asarray(points, dtype=float)
    if p.ndim == 1:
        p = p[:, None]
    if p.ndim != 2:
        raise ValueError(f"points must be 1-D or 2-D; got shape {p.shape}")
    finite = np.all(np.isfinite(p), axis=1)
    q = p[finite]
    # O(n^2 k) memory-light loop over candidates: fronts here hold tens to hundreds of points.
    dominated = np.zeros(len(q), dtype=bool)
    for i in range(len(q)):
        tol = rtol * np.abs(q[i])
        no_worse = np.all(q <= q[i] + tol, axis=1)
        better = np.any(q < q[i] - tol, axis=1)
        dominated[i] = bool(np.any(no_worse & better))
    mask = np.zeros(len(p), dtype=bool)
    mask[np.flatnonzero(finite)] = ~dominated
    return mask


def eez_distance(point: Sequence[float] | np.ndarray, front: np.ndarray, eps: Sequence[float] = DEFAULT_EPS) -> float:
    """The smallest uniform relative slack s for which some front point f has p_i <= (1 + s * eps_i) * f_i for all i.

    ``s <= 1`` is the Entropy Efficiency Zone (the point is (1 + eps)-dominance-close to the front); ``s = 0`` on the
    front; ``s < 0`` for a point that beats a front point in every objective (a new policy beyond the front).

    Default eps = (2 % time, 5 % entropy, 5 % degradation):

    - time, 2 %: the charge time of a control policy is quantised by its control period (30 s in FastCharge, i.e. 1-3 %
      of a 20-50 min charge), so a smaller slack would separate protocols that differ by one control step;
    - entropy, 5 %: at equal charge time the entropy-optimal profile beats CC-CV by 0.3-3 % (docs/physics.md §5, §6), so
      5 % admits a well-tuned standard protocol but excludes one that wastes more than an optimal controller saves;
    - degradation, 5 %: LLI per charge varies by a few per cent between protocols and does not track entropy
      (OKane2022: 0.215-0.229 %, docs/physics.md §4), and aging-model scatter is larger; 5 % keeps only near-best
      points.

    Parameters
    ----------
    point : sequence of float, length k
        Objectives of one point.
    front : ndarray, shape (m, k)
        Front points (objectives >= 0). A front value of 0 admits only points with 0 in that objective.
    eps : sequence of float, length k
        Relative slack per objective (> 0).

    Returns
    -------
    float
        The slack s (``inf`` when the front is empty or the point is non-finite).
    """
    p = np.asarray(point, dtype=float).ravel()
    f = np.atleast_2d(np.asarray(front, dtype=float))
    e = np.asarray(eps, dtype=float).ravel()
    if f.size == 0 or not np.all(np.isfinite(p)):
        return float("inf")
    if f.shape[1] != p.size or e.size != p.size:
        raise ValueError(f"point ({p.size}), front ({f.shape[1]}) and eps ({e.size}) differ in objectives")
    if np.any(e <= 0):
        raise ValueError(f"eps must be positive; got {e}")
    scale = np.abs(f) * e
    excess = p - f
    with np.errstate(divide="ignore", invalid="ignore"):
        slack = np.where(scale > 0, excess / np.where(scale > 0, scale, 1.0), np.where(excess <= 0, 0.0, np.inf))
    return float(np.min(np.max(slack, axis=1)))


def in_eez(point: Sequence[float] | np.ndarray, front: np.ndarray, eps: Sequence[float] = DEFAULT_EPS) -> bool:
    """True when ``point`` lies in the Entropy Efficiency Zone of ``front`` (``eez_distance <= 1``)."""
    return eez_distance(point, front, eps) <= 1.0


def objective_matrix(rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """The (n, 3) objective array of sweep rows (NaN where a value is missing)."""
    return np.array([[float(row.get(name, np.nan)) for name in OBJECTIVES] for row in rows], dtype=float).reshape(-1, 3)


def row_reached_target(row: Mapping[str, Any]) -> bool:
    return float(row.get("reached_target", 0.0)) >= 1.0 - 1e-9


def annotate_front(rows: Sequence[Mapping[str, Any]], eps: Sequence[float] = DEFAULT_EPS) -> list[dict[str, Any]]:
    """Copies of ``rows`` with ``on_front``, ``in_eez`` and ``eez_distance`` added.

    Only rows whose every episode reached the target compete for the front (a charge that stopped short has a
    meaningless charge time); the others get a distance but are never on the front or in the EEZ.
    """
    points = objective_matrix(rows)
    valid = np.array([row_reached_target(row) for row in rows], dtype=bool) & np.all(np.isfinite(points), axis=1)
    on_front = np.zeros(len(rows), dtype=bool)
    on_front[valid] = pareto_mask(points[valid], rtol=FRONT_RTOL)
    front = points[on_front]
    out = []
    for row, point, ok, front_flag in zip(rows, points, valid, on_front, strict=True):
        distance = eez_distance(point, front, eps)
        out.append(
            {**row, "on_front": bool(front_flag), "in_eez": bool(ok and distance <= 1.0), "eez_distance": distance}
        )
    return out


# Fronts measured once per scenario and shipped with the package, so a trained policy is judged against a real sweep
# (``eomctl pareto --quick``: 12 standard protocols and one optimal-control bound), not only the protocols it was
# compared with. Regenerate with the command in ``eomctl/data/fronts/README.md``.
FRONTS_DIR = DATA_DIR / "fronts"


def stored_front(env_id: str) -> list[dict[str, Any]]:
    """The sweep rows stored for ``env_id`` (``eomctl/FastCharge-v0`` -> ``FastCharge-v0.csv``); [] when none.

    Only rows that reached the target are returned (the others cannot be on a front), with the objectives as floats.
    """
    path = FRONTS_DIR / f"{env_id.split('/')[-1]}.csv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [dict(row) for row in csv.DictReader(handle)]
    try:
        parsed = [{**row, **{k: float(row[k]) for k in (*OBJECTIVES, "reached_target")}} for row in rows]
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"stored front {path} is malformed ({exc}); regenerate it") from exc
    return [row for row in parsed if row_reached_target(row) and np.all(np.isfinite(objective_matrix([row])))]
