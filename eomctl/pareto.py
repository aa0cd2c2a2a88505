"""The charge-time / entropy / degradation Pareto front of charging protocols, and the Entropy Efficiency Zone (EEZ).

PHYSICS.md §5: at equal charge time, entropy-optimal charging beats CC-CV by only 0.3-3 %, so charge time is the
dominant lever and a protocol is judged by where it sits against the front of all three objectives (all minimised):

| objective | column | unit |
|---|---|---|
| charge time to the target SOC | ``charge_time_s`` | s |
| entropy produced, Sigma | ``entropy_j_per_k`` | J/K |
| degradation per charge, loss of lithium inventory | ``lli_pct`` | % |

The EEZ is the near-Pareto region: the points within a small relative slack of some front point (epsilon-dominance,
Laumanns et al. 2002, doi:10.1162/106365602760234108).
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eomctl.errors import ConfigError, EomctlWarning

OBJECTIVES: tuple[str, ...] = ("charge_time_s", "entropy_j_per_k", "lli_pct")
# Default EEZ slack per objective, relative (see :func:`eez_distance` for why these values).
DEFAULT_EPS: tuple[float, ...] = (0.02, 0.05, 0.05)
# Bound budgets as fractions of the scenario's time limit (FastCharge: 2160-3600 s; its 45 C limit makes ~2060 s the
# fastest feasible charge). An infeasible budget is reported as a failed row.
DEFAULT_BUDGET_FRACTIONS: tuple[float, ...] = (0.6, 0.7, 0.8, 0.9, 1.0)
QUICK_BUDGET_FRACTIONS: tuple[float, ...] = (0.75,)
# Sweep points closer than this (relative) count as equal on the front: the simulator integrates with rtol = atol = 1e-6
# and its limit searches stop at similar tolerances, so e.g. CC-CV 2C and a non-binding CC-CO differ by ~2e-7.
FRONT_RTOL = 1e-6
EXTRA_METRICS: tuple[str, ...] = ("peak_temperature_k", "min_anode_potential_v", "final_soc")
CSV_COLUMNS: tuple[str, ...] = ("family", "spec", *OBJECTIVES, "reached_target", "on_front", "in_eez", "eez_distance")


def default_grid(quick: bool = False) -> dict[str, list[str]]:
    """Protocol specs per family (the syntax of :mod:`eomctl.protocols`) spanning 0.5-3C.

    Parameters
    ----------
    quick : bool
        A coarse grid (about a third of the points) for smoke runs.
    """
    rates = ("0.5", "1", "2", "3") if quick else ("0.5", "0.75", "1", "1.25", "1.5", "2", "2.5", "3")
    grid = {
        "cccv": [f"cccv:rate={r}C,vmax=4.2,cutoff=C/20" for r in rates],
        "multistage": [
            "multistage:rates=3C/2C/1C,switch_soc=0.3/0.5",
            "multistage:rates=2C/1C,switch_soc=0.5",
            "multistage:rates=3C/1.5C,switch_soc=0.4",
            "multistage:rates=2.5C/2C/1.5C,switch_soc=0.3/0.6",
        ],
        "boost": [
            "boost:boost=3C,boost_until_soc=0.3,rate=1C",
            "boost:boost=3C,boost_until_soc=0.5,rate=1.5C",
            "boost:boost=2C,boost_until_soc=0.4,rate=1C",
        ],
        "pulse": ["pulse:rate=2C,on_s=60,off_s=30", "pulse:rate=3C,on_s=60,off_s=30", "pulse:rate=3C,on_s=30,off_s=30"],
        "ccco": [f"ccco:rate=2C,margin={m}" for m in ("0.005", "0.01", "0.02", "0.05")],
    }
    if quick:
        grid = {family: specs[:2] for family, specs in grid.items()}
        grid["cccv"] = [f"cccv:rate={r}C,vmax=4.2,cutoff=C/20" for r in rates]
    return grid


# ----------------------------------------------------------------------------------------------- front and EEZ
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
    - entropy, 5 %: at equal charge time the entropy-optimal profile beats CC-CV by 0.3-3 % (PHYSICS.md §5, §6), so
      5 % admits a well-tuned standard protocol but excludes one that wastes more than an optimal controller saves;
    - degradation, 5 %: LLI per charge varies by a few per cent between protocols and does not track entropy
      (OKane2022: 0.215-0.229 %, PHYSICS.md §4), and aging-model scatter is larger; 5 % keeps only near-best points.

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
FRONTS_DIR = Path(__file__).parent / "data" / "fronts"


def stored_front(env_id: str) -> list[dict[str, Any]]:
    """The sweep rows stored for ``env_id`` (``eomctl/FastCharge-v0`` -> ``FastCharge-v0.csv``); [] when none.

    Only rows that reached the target are returned (the others cannot be on a front), with the objectives as floats.
    """
    import csv

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


# ----------------------------------------------------------------------------------------------- sweep tasks
def _error_row(family: str, spec: str, exc: Exception, wall_s: float) -> dict[str, Any]:
    nan = float("nan")
    return {"family": family, "spec": spec, **dict.fromkeys(OBJECTIVES, nan), "reached_target": 0.0, "wall_s": wall_s,
            "error": f"{type(exc).__name__}: {exc}"}  # fmt: skip


def _mean(summary: Mapping[str, Any], name: str) -> float:
    """A metric's mean from :meth:`PolicyEvaluation.summary` (``{"mean": ...}`` per metric, or a plain number)."""
    value = summary.get(name, np.nan)
    return float(value["mean"] if isinstance(value, Mapping) else value)


def evaluate_spec_task(
    env_id: str, spec: str, episodes: int, seed: int, overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Evaluate one protocol spec on ``env_id`` (a top-level task for :func:`eomctl.executor.run_tasks`).

    Objectives and :data:`EXTRA_METRICS` are means over the episodes; ``reached_target`` is the success rate.
    """
    from eomctl.evaluation import evaluate_policy

    family, start = spec.split(":", 1)[0].strip(), time.perf_counter()
    try:
        evaluation = evaluate_policy(spec, _cached_env(env_id, overrides), episodes=episodes, seed=seed)
        summary = evaluation.summary()
    except Exception as exc:  # one bad grid point must not lose a long sweep: it is reported in the row
        return _error_row(family, spec, exc, time.perf_counter() - start)
    metrics = {name: _mean(summary, name) for name in (*OBJECTIVES, *EXTRA_METRICS)}
    reached = summary["success_rate"] if "success_rate" in summary else _mean(summary, "reached_target")
    return {"family": family, "spec": spec, **metrics, "reached_target": float(reached),
            "wall_s": time.perf_counter() - start, "error": ""}  # fmt: skip


_ENV_CACHE: dict[str, Any] = {}
_ENV_CACHE_SIZE = 2


def _cached_env(env_id: str, overrides: Mapping[str, Any] | None) -> Any:
    """This worker's env for ``env_id`` + ``overrides``, built once: a build (with JIT compilation ~15 s) costs more
    than a whole episode, and every episode starts from a full ``reset(seed=...)``, so reuse does not change results."""
    import json

    from eomctl.env import ChargingEnv

    key = json.dumps([env_id, overrides], sort_keys=True, default=repr)
    if key not in _ENV_CACHE:
        while len(_ENV_CACHE) >= _ENV_CACHE_SIZE:
            _ENV_CACHE.pop(next(iter(_ENV_CACHE))).close()
        _ENV_CACHE[key] = ChargingEnv(env_id, overrides=_plain(overrides))
    return _ENV_CACHE[key]


def _plain(overrides: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if overrides is None else dict(overrides)


def optimal_bound_task(
    env_id: str, time_budget_s: float, n_intervals: int, overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The optimal-control bound for one charge-time budget (a top-level task for :func:`run_tasks`).

    The replayed optimum counts as having reached the target when its end SOC is within the optimiser's own SOC
    tolerance of the scenario's target; ``status`` records the optimiser's verdict.
    """
    from eomctl.optimal import SOC_TOLERANCE, optimal_charge
    from eomctl.scenarios import load_scenario

    spec, start = f"optimal:budget_s={time_budget_s:g},n_intervals={n_intervals}", time.perf_counter()
    try:
        target_soc = load_scenario(env_id, overrides).target_soc
        result = optimal_charge(env_id, time_budget_s, n_intervals=n_intervals, overrides=_plain(overrides))
    except Exception as exc:  # reported in the row, as for the protocols
        return _error_row("optimal", spec, exc, time.perf_counter() - start)
    replay, tolerance = result.replay, SOC_TOLERANCE
    reached = float(replay.get("final_soc", np.nan)) >= target_soc - tolerance
    metrics = {name: float(replay.get(name, np.nan)) for name in OBJECTIVES}
    return {"family": "optimal", "spec": spec, **metrics, "reached_target": float(reached), "status": result.status,
            "wall_s": time.perf_counter() - start, "error": ""}  # fmt: skip


def sweep_task(env_id: str, overrides: Mapping[str, Any] | None, **params: Any) -> dict[str, Any]:
    """One sweep point: :func:`optimal_bound_task` when ``params`` hold ``time_budget_s``, else
    :func:`evaluate_spec_task` (one task function, so the bound and the protocols share a pool and a checkpoint)."""
    if "time_budget_s" in params:
        return optimal_bound_task(env_id, params["time_budget_s"], params["n_intervals"], overrides)
    return evaluate_spec_task(env_id, params["spec"], params["episodes"], params["seed"], overrides)


def _default_budgets_s(env_id: str, overrides: Mapping[str, Any] | None, quick: bool) -> list[float]:
    from eomctl.scenarios import load_scenario

    time_limit_s = load_scenario(env_id, overrides).time_limit_s
    return [f * time_limit_s for f in (QUICK_BUDGET_FRACTIONS if quick else DEFAULT_BUDGET_FRACTIONS)]


def _family_grid(families: Mapping[str, Sequence[str]] | Sequence[str] | None, quick: bool) -> dict[str, list[str]]:
    grid = default_grid(quick)
    if families is None:
        return grid
    if isinstance(families, Mapping):
        return {name: list(specs) for name, specs in families.items()}
    unknown = [f for f in families if f not in grid]
    if unknown:
        raise ConfigError(f"unknown protocol families {unknown}; choose from {sorted(grid)}")
    return {f: grid[f] for f in families}


def sweep(
    env_id: str,
    families: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
    budgets_s: Sequence[float] | None = None,
    episodes: int = 1,
    seed: int = 0,
    executor: str = "local",
    overrides: Mapping[str, Any] | None = None,
    include_bound: bool = True,
    checkpoint: str | Path | None = None,
    *,
    quick: bool = False,
    n_intervals: int = 20,
    eps: Sequence[float] = DEFAULT_EPS,
    max_workers: int | None = None,
    ray_address: str | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Evaluate protocol families (and the optimal-control bound) on one scenario and flag the front and the EEZ.

    Parameters
    ----------
    env_id : str
        Gymnasium id, e.g. ``"eomctl/FastCharge-v0"``.
    families : mapping or sequence of str, optional
        Family names to take from :func:`default_grid` (default all), or a mapping family -> list of specs.
    budgets_s : sequence of float, optional
        Charge-time budgets [s] for the optimal-control bound; default :data:`DEFAULT_BUDGET_FRACTIONS` (with ``quick``
        :data:`QUICK_BUDGET_FRACTIONS`) of the scenario's time limit.
    episodes, seed : int
        Episodes per protocol and the seed of the first.
    executor, max_workers, ray_address, checkpoint, progress
        Passed to :func:`eomctl.executor.run_tasks` (all tasks run there, bound included).
    overrides : mapping, optional
        Scenario overrides, e.g. ``{"simulator": {"compile": False}}``.
    include_bound : bool
        Also solve the optimal-control bound for every budget.
    quick : bool
        The coarse grid of :func:`default_grid` (when ``families`` names families or is None) and one default budget.
    n_intervals : int
        Current intervals of the optimal-control bound.
    eps : sequence of float
        EEZ slack per objective (see :func:`eez_distance`).

    Returns
    -------
    list of dict
        One row per protocol/budget: family, spec, charge_time_s, entropy_j_per_k, lli_pct, reached_target, wall_s,
        error ("" when it ran), on_front, in_eez, eez_distance. Failed rows also emit an :class:`EomctlWarning`.
    """
    from eomctl.executor import run_tasks

    plain = _plain(overrides)
    budgets = [] if not include_bound else _default_budgets_s(env_id, plain, quick) if budgets_s is None else budgets_s
    # The bound's solves are the longest tasks: submitted first, they overlap with the protocol episodes.
    tasks = [
        {"env_id": env_id, "overrides": plain, "time_budget_s": float(b), "n_intervals": n_intervals} for b in budgets
    ]
    tasks += [{"env_id": env_id, "overrides": plain, "spec": spec, "episodes": episodes, "seed": seed}
              for specs in _family_grid(families, quick).values() for spec in specs]  # fmt: skip
    results = run_tasks(sweep_task, tasks, executor, max_workers, ray_address, progress, checkpoint)
    rows: list[dict[str, Any]] = results[len(budgets) :] + results[: len(budgets)]
    failed = [f"{row['spec']} ({row['error']})" for row in rows if row.get("error")]
    if failed:
        warnings.warn(f"{len(failed)} sweep point(s) failed: {'; '.join(failed)}", EomctlWarning, stacklevel=2)
    return annotate_front(rows, eps)


def rows_to_columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Sweep rows as CSV columns (:data:`CSV_COLUMNS` first, booleans as 0/1 so the CSV stays numeric)."""
    names = list(CSV_COLUMNS) + sorted({k for row in rows for k in row} - set(CSV_COLUMNS))
    return {n: [int(v) if isinstance(v, bool) else v for v in (row.get(n, "") for row in rows)] for n in names}


# ----------------------------------------------------------------------------------------------- plotting
def _cmd_pareto(args: argparse.Namespace) -> int:
    from eomctl.io import write_csv
    from eomctl.plots import plot_pareto

    overrides = {"simulator": {"compile": False}} if args.no_compile else None
    rows = sweep(
        args.env,
        families=args.families,
        episodes=args.episodes,
        seed=args.seed,
        executor=args.executor,
        overrides=overrides,
        include_bound=not args.no_bound,
        checkpoint=args.checkpoint,
        quick=args.quick,
        n_intervals=args.n_intervals,
        max_workers=args.workers,
        ray_address=args.ray_address,
    )
    write_csv(args.out, rows_to_columns(rows))
    if args.plot:
        plot_pareto(rows, args.plot)
    on_front = [r["spec"] for r in rows if r["on_front"]]
    in_eez = sum(bool(r["in_eez"]) for r in rows)
    print(f"{len(rows)} points -> {args.out}: {len(on_front)} on the front, {in_eez} in the EEZ")
    print("front: " + ", ".join(on_front))
    return 3 if any(r.get("error") for r in rows) else 0


def add_pareto_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``eomctl pareto`` sub-command to ``subparsers`` (from ``ArgumentParser.add_subparsers``)."""
    p = subparsers.add_parser("pareto", help="sweep protocol families and the optimal bound; write the Pareto front")
    p.add_argument("--env", default="eomctl/FastCharge-v0", help="Gymnasium id of the scenario")
    p.add_argument("--out", default="pareto.csv", help="CSV file to write")
    p.add_argument("--plot", default=None, help="figure to write (e.g. pareto.png)")
    p.add_argument("--executor", default="local", choices=["local", "ray", "serial"])
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: a local Ray instance)")
    p.add_argument("--workers", type=int, default=None, help="parallel workers (default: all CPUs)")
    p.add_argument("--families", nargs="+", default=None, help=f"protocol families (default: {sorted(default_grid())})")
    p.add_argument("--episodes", type=int, default=1, help="episodes per protocol")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-intervals", type=int, default=20, help="current intervals of the optimal-control bound")
    p.add_argument("--no-bound", action="store_true", help="skip the optimal-control bound")
    p.add_argument("--checkpoint", default=None, help="JSON file to resume an interrupted sweep from")
    p.add_argument("--quick", action="store_true", help="coarse grid and one bound budget (smoke run)")
    p.add_argument("--no-compile", action="store_true", help="skip JIT compilation (faster start, slower steps)")
    p.set_defaults(func=_cmd_pareto)
    return p
