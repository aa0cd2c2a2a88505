"""Sweeps of protocol families (and the optimal-control bound) over a scenario: the points of the Pareto manifold.

Each grid point is one task for :func:`eomctl.core.executor.run_tasks` (serial, a local process pool or Ray), with a
checkpoint so an interrupted sweep resumes; the rows are annotated with the front and the EEZ of
:mod:`eomctl.evaluation.eez`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eomctl.charging.env import ChargingEnv
from eomctl.charging.scenarios import load_scenario
from eomctl.core.errors import ConfigError, EomctlWarning
from eomctl.core.executor import chunks, run_tasks, worker_count
from eomctl.evaluation.eez import DEFAULT_EPS, OBJECTIVES, annotate_front
from eomctl.evaluation.evaluate import evaluate_policy
from eomctl.evaluation.optimal import SOC_TOLERANCE, optimal_charge

# Bound budgets as fractions of the scenario's time limit (FastCharge: 2160-3600 s; its 45 C limit makes ~2060 s the
# fastest feasible charge). An infeasible budget is reported as a failed row.
DEFAULT_BUDGET_FRACTIONS: tuple[float, ...] = (0.6, 0.7, 0.8, 0.9, 1.0)
QUICK_BUDGET_FRACTIONS: tuple[float, ...] = (0.75,)
EXTRA_METRICS: tuple[str, ...] = ("lli_pct", "peak_temperature_k", "min_anode_potential_v", "final_soc")
CSV_COLUMNS: tuple[str, ...] = ("family", "spec", *OBJECTIVES, "reached_target", "on_front", "in_eez", "eez_distance")


def default_grid(quick: bool = False) -> dict[str, list[str]]:
    """Protocol specs per family (the syntax of :mod:`eomctl.policies.baselines`) spanning 0.5-3C.

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


# ----------------------------------------------------------------------------------------------- sweep tasks
def _error_row(family: str, spec: str, exc: Exception, wall_s: float) -> dict[str, Any]:
    nan = float("nan")
    return {"family": family, "spec": spec, **dict.fromkeys(OBJECTIVES, nan), "reached_target": 0.0, "wall_s": wall_s,
            "error": f"{type(exc).__name__}: {exc}"}  # fmt: skip


def _mean(summary: Mapping[str, Any], name: str) -> float:
    """A metric's mean from :meth:`PolicyEvaluation.summary` (``{"mean": ...}`` per metric, or a plain number)."""
    value = summary.get(name, np.nan)
    return float(value["mean"] if isinstance(value, Mapping) else value)


def evaluate_spec(env: ChargingEnv, spec: str, episodes: int, seed: int) -> dict[str, Any]:
    """One sweep row: ``spec`` evaluated on ``env`` (objectives and :data:`EXTRA_METRICS` as means over the
    episodes; ``reached_target`` is the success rate). A failure is reported in the row, not raised."""
    family, start = spec.split(":", 1)[0].strip(), time.perf_counter()
    try:
        summary = evaluate_policy(spec, env, episodes=episodes, seed=seed).summary()
    except Exception as exc:  # one bad grid point must not lose a long sweep: it is reported in the row
        return _error_row(family, spec, exc, time.perf_counter() - start)
    metrics = {name: _mean(summary, name) for name in (*OBJECTIVES, *EXTRA_METRICS)}
    reached = summary["success_rate"] if "success_rate" in summary else _mean(summary, "reached_target")
    return {"family": family, "spec": spec, **metrics, "reached_target": float(reached),
            "wall_s": time.perf_counter() - start, "error": ""}  # fmt: skip


def evaluate_specs_task(
    env_id: str, specs: Sequence[str], episodes: int, seed: int, overrides: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """Evaluate a chunk of protocol specs on one env built for them (a task for :func:`run_tasks`).

    A build (with JIT compilation ~15 s) costs more than a whole episode, so one env serves the chunk; every episode
    starts from a full ``reset(seed=...)``, so sharing it does not change results.
    """
    try:
        env = ChargingEnv(env_id, overrides=_plain(overrides))
    except Exception as exc:  # reported in every row of the chunk, as for a failing spec
        return [_error_row(spec.split(":", 1)[0].strip(), spec, exc, 0.0) for spec in specs]
    try:
        return [evaluate_spec(env, spec, episodes, seed) for spec in specs]
    finally:
        env.close()


def _plain(overrides: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if overrides is None else dict(overrides)


def optimal_bounds_task(
    env_id: str, time_budgets_s: Sequence[float], n_intervals: int | None, overrides: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The optimal-control bound at each charge-time budget, longest first, each solve warm-started from the optimum
    of the previous budget (its profile stretched to the new budget with the same charge) as well as the matched-time
    CC-CV (a top-level task for :func:`run_tasks`).

    The replayed optimum counts as having reached the target when its end SOC is within the optimiser's own SOC
    tolerance of the scenario's target; ``status`` records the optimiser's verdict and ``converged`` whether it is a
    bound (only status "optimal" is).
    """
    rows: list[dict[str, Any]] = [{} for _ in time_budgets_s]
    previous: tuple[float, np.ndarray] | None = None
    target_soc = load_scenario(env_id, overrides).target_soc
    for i in sorted(range(len(time_budgets_s)), key=lambda k: -time_budgets_s[k]):
        time_budget_s = time_budgets_s[i]
        spec, start = f"optimal:budget_s={time_budget_s:g}", time.perf_counter()
        if n_intervals is not None:
            spec += f",n_intervals={n_intervals}"
        guess = None if previous is None else previous[1] * (previous[0] / time_budget_s)  # same charge, less time
        try:
            result = optimal_charge(env_id, time_budget_s, n_intervals=n_intervals, overrides=_plain(overrides),
                                    initial_guess_a=guess)  # fmt: skip
        except Exception as exc:  # reported in the row, as for the protocols
            rows[i] = _error_row("optimal", spec, exc, time.perf_counter() - start)
            continue
        replay = result.replay
        reached = float(replay.get("final_soc", np.nan)) >= target_soc - SOC_TOLERANCE
        metrics = {name: float(replay.get(name, np.nan)) for name in (*OBJECTIVES, "lli_pct")}
        rows[i] = {"family": "optimal", "spec": spec, **metrics, "reached_target": float(reached),
                   "status": result.status, "converged": result.converged, "iterations": result.iterations,
                   "solve_s": result.solve_time_s, "warm_start": result.start == "guess",
                   "wall_s": time.perf_counter() - start, "error": ""}  # fmt: skip
        if result.converged:
            previous = (time_budget_s, result.currents_a)
    return rows


def sweep_task(env_id: str, overrides: Mapping[str, Any] | None, **params: Any) -> list[dict[str, Any]]:
    """Sweep rows: the bound at every budget (:func:`optimal_bounds_task`) when ``params`` hold ``time_budgets_s``,
    else a chunk of protocols (:func:`evaluate_specs_task`); one task function, so both share a pool and a
    checkpoint."""
    if "time_budgets_s" in params:
        return optimal_bounds_task(env_id, params["time_budgets_s"], params["n_intervals"], overrides)
    return evaluate_specs_task(env_id, params["specs"], params["episodes"], params["seed"], overrides)


def _default_budgets_s(env_id: str, overrides: Mapping[str, Any] | None, quick: bool) -> list[float]:
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
    n_intervals: int | None = None,
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
        Passed to :func:`eomctl.core.executor.run_tasks` (all tasks run there, bound included).
    overrides, include_bound
        Scenario overrides (e.g. ``{"simulator": {"compile": False}}``); also solve the bound for every budget.
    quick : bool
        The coarse grid of :func:`default_grid` (when ``families`` names families or is None) and one default budget.
    n_intervals, eps
        Current steps of the optimal-control bound (default: the env's step); EEZ slack per objective (see
        :func:`eez_distance`).

    Returns
    -------
    list of dict
        One row per protocol/budget: family, spec, the objectives (:data:`OBJECTIVES`), lli_pct, reached_target, wall_s,
        error ("" when it ran), on_front, in_eez, eez_distance. Failed rows also emit an :class:`EomctlWarning`.
    """
    plain = _plain(overrides)
    budgets = [] if not include_bound else _default_budgets_s(env_id, plain, quick) if budgets_s is None else budgets_s
    specs = [spec for family in _family_grid(families, quick).values() for spec in family]
    tasks = _sweep_tasks(
        env_id, plain, budgets, n_intervals, specs, episodes, seed, worker_count(executor, max_workers)
    )
    results = run_tasks(sweep_task, tasks, executor, max_workers, ray_address, progress, checkpoint)
    n_bound = 1 if budgets else 0
    ordered = results[n_bound:] + results[:n_bound]  # protocols first, then the bound
    rows: list[dict[str, Any]] = [row for result in ordered for row in result]
    failed = [f"{row['spec']} ({row['error']})" for row in rows if row.get("error")]
    if failed:
        warnings.warn(f"{len(failed)} sweep point(s) failed: {'; '.join(failed)}", EomctlWarning, stacklevel=2)
    return annotate_front(rows, eps)


def _sweep_tasks(
    env_id: str,
    overrides: dict[str, Any] | None,
    budgets_s: Sequence[float],
    n_intervals: int | None,
    specs: Sequence[str],
    episodes: int,
    seed: int,
    workers: int,
) -> list[dict[str, Any]]:
    """The keyword mappings of :func:`sweep_task`: one for the bound's budgets (solved in sequence, each warm-started
    from its neighbour), then the protocols in ``workers`` chunks."""
    # The bound's solves are the longest task: submitted first, it overlaps with the protocol episodes.
    tasks: list[dict[str, Any]] = []
    if budgets_s:
        budgets = [float(b) for b in budgets_s]
        tasks.append({"env_id": env_id, "overrides": overrides, "time_budgets_s": budgets, "n_intervals": n_intervals})
    return tasks + [{"env_id": env_id, "overrides": overrides, "specs": chunk, "episodes": episodes, "seed": seed}
                    for chunk in chunks(specs, workers)]  # fmt: skip


def rows_to_columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Sweep rows as CSV columns (:data:`CSV_COLUMNS` first, booleans as 0/1 so the CSV stays numeric)."""
    names = list(CSV_COLUMNS) + sorted({k for row in rows for k in row} - set(CSV_COLUMNS))
    return {n: [int(v) if isinstance(v, bool) else v for v in (row.get(n, "") for row in rows)] for n in names}


# ----------------------------------------------------------------------------------------------- plotting
