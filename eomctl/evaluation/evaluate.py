"""Evaluate charging policies on a :class:`~eomctl.charging.env.ChargingEnv`, entropy always next to charge time.

docs/physics.md §5: at equal charge time entropy-optimal charging beats CC-CV by only a few per cent, so a saving means
nothing without its charge time. :func:`compare` therefore sets a policy against the CC-CV whose charge time matches
its own (:func:`matched_time_cccv`) and against CC-CV at 0.5C / 1C / 2C, each with its time. Baselines and trained
agents go through the same :func:`rollout` (see :mod:`eomctl.policies.baselines`).

Charge time is the time the SOC reaches the scenario's target, interpolated within the last control step (the current
is constant within a step, so SOC is linear in time there); an episode that never reaches it reports its end time and
``reached_target = False``. Entropy, heat, energy and degradation are totals to the episode's end.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np

from eomctl.charging.env import ChargingEnv
from eomctl.core.constants import SECONDS_PER_HOUR
from eomctl.core.errors import ConfigError
from eomctl.evaluation.eez import annotate_front, stored_front
from eomctl.evaluation.optimal import optimal_charge
from eomctl.policies.baselines import CCCV, Rate
from eomctl.policies.episode import drive, start_episode, stopped_by
from eomctl.policies.protocol import Policy
from eomctl.policies.specs import parse_policy, policy_spec

REFERENCE_RATES_C = (0.5, 1.0, 2.0)
RECORD_KEYS = (  # per-state row of measure_episode(record=True); step integrals refer to the step that ended there
    "time_s",
    "current_a",
    "c_rate",
    "voltage_v",
    "temperature_k",
    "soc",
    "anode_potential_v",
    "entropy_j_per_k",
    "entropy_step_j_per_k",
    "energy_in_j",
    "lli_pct",
    "limited",
)
TOTALS = ("entropy_j_per_k", "heat_irr_j", "energy_in_j", "free_energy_j", "charge_in_ah")
DEGRADATION = ("lli_pct", "plating_ah", "sei_ah")
SATURATION_RTOL = 2e-3  # charge time counts as no longer falling with the rate when it changes less than this


@dataclass(frozen=True)
class EpisodeMetrics:
    """What one charge did: times in s, entropy in J/K, energies in J, degradation since reset.

    Integrals and degradation run from reset to the charge time (see :func:`rollout`); ``entropy_episode_j_per_k``
    runs to the episode's end (equal to the env's total).
    """

    charge_time_s: float
    reached_target: bool
    stopped_by: str  # "target" | "policy" | "time_limit" | "solver_failure"
    entropy_j_per_k: float
    entropy_j_per_k_per_ah: float
    heat_irr_j: float
    energy_in_j: float
    energy_efficiency: float  # free energy stored / electrical energy in
    peak_temperature_k: float
    min_anode_potential_v: float
    lli_pct: float
    irreversible_lli_pct: float  # at the episode's end, after a 30 min rest (NaN after a solver failure)
    plating_ah: float
    sei_ah: float
    violations: int
    final_soc: float
    entropy_episode_j_per_k: float


NUMERIC_METRICS = tuple(f.name for f in dataclasses.fields(EpisodeMetrics) if f.name != "stopped_by")


@dataclass(frozen=True)
class PolicyEvaluation:
    """A policy's episodes on one env; ``note`` says anything the numbers need (e.g. a saturated CC-CV match)."""

    policy: str
    env_id: str
    episodes: tuple[EpisodeMetrics, ...]
    note: str = ""

    def summary(self) -> dict[str, Any]:
        """Mean, std, min and max of every numeric metric, with n, the success rate and how episodes ended."""
        out: dict[str, Any] = {"policy": self.policy, "env_id": self.env_id, "n": len(self.episodes)}
        for name in NUMERIC_METRICS:
            values = np.array([float(getattr(e, name)) for e in self.episodes])
            out[name] = {
                k: float(f(values)) for k, f in (("mean", np.mean), ("std", np.std), ("min", np.min), ("max", np.max))
            }
        out["success_rate"] = out.pop("reached_target")["mean"]
        out["stopped_by"] = {s: sum(e.stopped_by == s for e in self.episodes) for s in {e.stopped_by for e in self}}
        if self.note:
            out["note"] = self.note
        return out

    def __iter__(self) -> Any:
        return iter(self.episodes)

    def mean(self, name: str) -> float:
        """Mean of one metric over the episodes."""
        return float(np.mean([float(getattr(e, name)) for e in self.episodes]))


def as_env(env: str | gymnasium.Env[Any, Any], overrides: dict[str, Any] | None) -> gymnasium.Env[Any, Any]:
    if not isinstance(env, str):
        if overrides:
            raise ConfigError("overrides apply when the env is given by name; build the env with them instead")
        return env

    return ChargingEnv(env, overrides=overrides)


def env_id_of(env: gymnasium.Env[Any, Any]) -> str:
    return env.spec.id if env.spec is not None else f"eomctl/{env.unwrapped.scenario.name}-v0"  # type: ignore[attr-defined]


def _totals(env: Any, start: dict[str, float]) -> dict[str, float]:
    """Integrals since reset (entropy, heat, energies, charge) and degradation since reset, from the simulator."""
    last = env.sim.last
    out = {k: float(last.totals[k]) for k in TOTALS}
    out.update({k: float(last.degradation.get(k, 0.0) - start.get(k, 0.0)) for k in DEGRADATION})
    return out


def _irreversible_at(env: Any, lli_at_charge_time_pct: float) -> float:
    """Irreversible lithium loss [%] of the episode at the charge time: its LLI there minus the plated lithium a rest
    gives back, evaluated at the episode's end (the step that crossed the target, or a policy's own end), so that it
    is taken at the same moment as LLI and never exceeds it (the recoverable part cannot be negative)."""
    if env.sim.last.solver_failed or "lli_pct" not in env.sim.last.degradation:
        return math.nan
    loss = env.sim.irreversible_loss()
    return lli_at_charge_time_pct - max(loss.lli_pct - loss.irreversible_pct, 0.0)


def measure_episode(
    policy: Policy, env: gymnasium.Env[Any, Any], seed: int, record: bool = False
) -> tuple[EpisodeMetrics, list[dict[str, Any]] | None]:
    """Run one episode of ``policy`` (bound to the env, its limits applied) and measure it.

    Integrals and degradation are taken at the charge time (interpolated linearly within the step that crosses the
    target SOC, so that episodes ending a fraction of a step apart compare fairly), or at the episode's end when the
    target is never reached; ``entropy_episode_j_per_k`` is the env's total to the episode's end.

    Returns
    -------
    EpisodeMetrics, list of dict or None
        The metrics and, with ``record``, one row per state (the reset state first) with the action that followed.
    """
    base: Any = env.unwrapped
    bound, observation, reset_info = start_episode(policy, env, seed)
    info: Mapping[str, Any] = reset_info
    start = dict(base.sim.last.degradation)
    totals, at_target, target_soc = _totals(base, start), None, base.scenario.target_soc
    rows = [{k: info[k] for k in RECORD_KEYS}] if record else None
    peak_k, min_anode_v, charge_time_s = info["temperature_k"], info["anode_potential_v"], None
    last = None
    for last in drive(bound, observation, env.step):
        before, before_totals, info = info, totals, last.info
        totals = _totals(base, start)
        peak_k, min_anode_v = max(peak_k, info["temperature_k"]), min(min_anode_v, info["anode_potential_v"])
        if at_target is None and info["soc"] >= target_soc:
            f = (target_soc - before["soc"]) / (info["soc"] - before["soc"])
            charge_time_s = before["time_s"] + f * (info["time_s"] - before["time_s"])
            at_target = {k: v + f * (totals[k] - v) for k, v in before_totals.items()}
        if rows is not None:
            rows[-1]["action"] = last.action
            rows.append({k: info[k] for k in RECORD_KEYS})
    end = at_target or totals
    metrics = EpisodeMetrics(
        charge_time_s=float(charge_time_s if charge_time_s is not None else info["time_s"]),
        reached_target=charge_time_s is not None,
        stopped_by=stopped_by(last),
        entropy_j_per_k=end["entropy_j_per_k"],
        entropy_j_per_k_per_ah=end["entropy_j_per_k"] / end["charge_in_ah"] if end["charge_in_ah"] > 0 else 0.0,
        heat_irr_j=end["heat_irr_j"],
        energy_in_j=end["energy_in_j"],
        energy_efficiency=end["free_energy_j"] / end["energy_in_j"] if end["energy_in_j"] > 0 else 0.0,
        peak_temperature_k=float(peak_k),
        min_anode_potential_v=float(min_anode_v),
        lli_pct=end["lli_pct"],
        irreversible_lli_pct=_irreversible_at(base, end["lli_pct"]),
        plating_ah=end["plating_ah"],
        sei_ah=end["sei_ah"],
        violations=int(info["violation_count"]),
        final_soc=float(info["soc"]),
        entropy_episode_j_per_k=totals["entropy_j_per_k"],
    )
    return metrics, rows


def evaluate_policy(
    policy: Policy | str,
    env: str | gymnasium.Env[Any, Any],
    episodes: int = 1,
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
) -> PolicyEvaluation:
    """Run ``episodes`` episodes with seeds ``seed, seed + 1, ...``; a policy may be given as a spec string."""
    if episodes < 1:
        raise ConfigError(f"episodes must be at least 1; got {episodes}")
    built = as_env(env, overrides)
    resolved = parse_policy(policy) if isinstance(policy, str) else policy
    runs = tuple(measure_episode(resolved, built, seed + i)[0] for i in range(episodes))
    return PolicyEvaluation(policy_spec(resolved), env_id_of(built), runs)


def cv_voltage_v(env: gymnasium.Env[Any, Any]) -> float:
    """The CV voltage a baseline charger holds on ``env``: the scenario's ``v_max_v`` limit, else the cell's cut-off."""
    base: Any = env.unwrapped
    limit = base.scenario.limits.v_max_v
    return float(base.v_max_v if limit is None else limit)


def _cccv(rate_c: float, vmax_v: float, cutoff_c: float) -> Policy:
    return CCCV(rate=Rate(rate_c), vmax=vmax_v, cutoff=Rate(cutoff_c))


def requested_currents_a(rows: Sequence[Mapping[str, Any]], current_max_a: float) -> np.ndarray:
    """The current each recorded action asked for [A] (the env's map ``(a + 1) / 2 * I_max``), from the rows of
    :func:`measure_episode` with ``record=True`` (the last row, the final state, has no action)."""
    return np.array([0.5 * (r["action"] + 1.0) * current_max_a for r in rows[:-1]])


def matched_time_cccv(
    target_time_s: float,
    env: str | gymnasium.Env[Any, Any],
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
    vmax_v: float | None = None,
    cutoff_c: float = 0.05,
    rtol: float = 0.01,
    episodes: int = 1,
) -> tuple[float, PolicyEvaluation]:
    """The CC-CV rate [C] whose mean charge time equals ``target_time_s`` to ``rtol``, and its evaluation.

    :func:`matched_time` over the CC-CV family, the rate within [0.1C, c_rate_max].
    """
    built = as_env(env, overrides)
    sc = built.unwrapped.scenario  # type: ignore[attr-defined]
    vmax = vmax_v if vmax_v is not None else cv_voltage_v(built)
    return matched_time(lambda rate_c: _cccv(rate_c, vmax, cutoff_c), target_time_s, built, seed, rtol=rtol,
                        episodes=episodes, scale_range=(0.1, float(sc.c_rate_max)))  # fmt: skip


def matched_time(
    family: Callable[[float], Policy],
    target_time_s: float,
    env: str | gymnasium.Env[Any, Any],
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
    rtol: float = 0.01,
    episodes: int = 1,
    scale_range: tuple[float, float] = (0.05, 1.0),
) -> tuple[float, PolicyEvaluation]:
    """The scale ``x`` of a charger family ``family(x)`` (e.g. a derated charger's nominal rate in C, or a factor on
    every stage's rate) whose mean charge time over ``episodes`` draws from ``seed`` equals ``target_time_s`` to
    ``rtol``, and its evaluation: how a baseline is tuned to a policy's charge time, on the training draws only.

    Charge time falls monotonically with the scale, so a bracket on log(x) within ``scale_range`` is found by
    stepping from the constant-current estimate, then refined by Brent's method (:func:`scipy.optimize.brentq`) until
    ``|t - target| / target < rtol``. A limited charger saturates at high scales (its time stops falling); a target
    faster than that, or out of the range, is not looped on: the nearest is returned with a ``note`` saying so.
    """
    from scipy.optimize import brentq

    built = as_env(env, overrides)
    sc = built.unwrapped.scenario  # type: ignore[attr-defined]
    lo_c, hi_c = scale_range
    runs: dict[float, PolicyEvaluation] = {}

    def gap(log_scale: float) -> float:
        scale = float(f"{math.exp(log_scale):.6g}")  # 6 digits: the value its spec label names exactly
        if scale not in runs:
            runs[scale] = evaluate_policy(family(scale), built, episodes, seed)
        error = (runs[scale].mean("charge_time_s") - target_time_s) / target_time_s
        if abs(error) < rtol:
            raise _Matched(scale)
        return error

    def best(note: str) -> tuple[float, PolicyEvaluation]:
        scale = min(runs, key=lambda r: abs(runs[r].mean("charge_time_s") - target_time_s))
        return scale, dataclasses.replace(runs[scale], note=note)

    guess_c = float(np.clip((sc.target_soc - np.mean(sc.initial_soc)) * SECONDS_PER_HOUR / target_time_s, lo_c, hi_c))
    try:
        bracket = _bracket(gap, math.log(guess_c), math.log(lo_c), math.log(hi_c))
        if isinstance(bracket, str):
            return best(bracket)
        brentq(gap, *bracket, xtol=1e-4, maxiter=40)
    except _Matched as matched:
        scale = matched.scale
        error = (runs[scale].mean("charge_time_s") - target_time_s) / target_time_s
        return scale, dataclasses.replace(runs[scale], note=f"matched to {100 * error:+.2f} % of the target time")
    return best(f"no scale matched to {rtol:.0%}: charge time jumps across the target; nearest shown")


class _Matched(Exception):  # a control-flow signal, not an error
    """Raised inside the root search once a scale matches the target time to the tolerance."""

    def __init__(self, scale: float) -> None:
        super().__init__(scale)
        self.scale = scale


def _bracket(gap: Any, x: float, x_lo: float, x_hi: float) -> tuple[float, float] | str:
    """Step log(scale) by log(1.6) from ``x`` until ``gap`` changes sign; a string explains a target out of reach
    (scales are C-rates for CC-CV)."""
    f = gap(x)
    step = math.log(1.6) if f > 0 else -math.log(1.6)  # too slow: faster rates
    while True:
        x_next = min(max(x + step, x_lo), x_hi)
        f_next = gap(x_next)
        if (f_next > 0) != (f > 0):
            return (x, x_next) if x < x_next else (x_next, x)
        if f > 0 and abs(f_next - f) < SATURATION_RTOL:
            return (
                f"the charger saturates: its charge time stops falling near {math.exp(x):.3g} "
                f"({100 * f_next:+.1f} % off the target at {math.exp(x_next):.3g}); nearest shown"
            )
        if x_next in (x_lo, x_hi):
            side = "faster than the charger at" if f_next > 0 else "slower than the charger at"
            return f"target out of reach: {side} {math.exp(x_next):.3g}; nearest shown"
        x, f = x_next, f_next


def _pair(evaluation: PolicyEvaluation) -> dict[str, Any]:
    """The headline numbers, entropy always next to its charge time."""
    return {
        "policy": evaluation.policy,
        "charge_time_s": evaluation.mean("charge_time_s"),
        "entropy_j_per_k": evaluation.mean("entropy_j_per_k"),
        "lli_pct": evaluation.mean("lli_pct"),
        "irreversible_lli_pct": evaluation.mean("irreversible_lli_pct"),
        "plating_ah": evaluation.mean("plating_ah"),
        "success_rate": evaluation.mean("reached_target"),
        **({"note": evaluation.note} if evaluation.note else {}),
    }


def _reduction_pct(reference: float, value: float) -> float:
    return 100.0 * (reference - value) / reference if reference else 0.0


def reference_evaluations(env: gymnasium.Env[Any, Any], episodes: int, seed: int) -> dict[str, dict[str, Any]]:
    vmax = cv_voltage_v(env)
    return {
        f"cccv_{rate_c:g}C": _pair(evaluate_policy(_cccv(rate_c, vmax, 0.05), env, episodes, seed))
        for rate_c in REFERENCE_RATES_C
    }


@dataclass(frozen=True)
class Comparison:
    """A policy against CC-CV (:func:`compare`); ``to_json`` is the record ``eomctl evaluate`` and a training run's
    ``evaluation.json`` hold.

    Attributes
    ----------
    policy, env_id : str
        What was compared, on which env.
    episodes, seed : int
        Episodes per policy and the seed of the first.
    summary : dict
        :meth:`PolicyEvaluation.summary` of the policy (mean, std and 95 % interval per metric).
    headline : dict
        The policy's mean metrics (a table row: charge time, entropy, LLI, plating, success rate, ...).
    matched_time_cccv : dict
        The CC-CV of equal charge time: its ``rate_c``, its row, and the policy's reductions against it [%].
    references : dict of str to dict
        CC-CV at 0.5C / 1C / 2C, each at its own charge time (name -> row).
    optimal_bound : dict or None
        The bound at the policy's charge time and the policy's gap to it (``bound=True``), or an ``error``.
    """

    policy: str
    env_id: str
    episodes: int
    seed: int
    summary: dict[str, Any]
    headline: dict[str, Any]
    matched_time_cccv: dict[str, Any]
    references: dict[str, dict[str, Any]]
    optimal_bound: dict[str, Any] | None = None

    def to_json(self, table: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
        """The record as JSON-ready data (with ``table``, e.g. :func:`table_rows`, when given)."""
        record = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "optimal_bound"}
        if self.optimal_bound is not None:
            record["optimal_bound"] = self.optimal_bound
        return record if table is None else {**record, "table": list(table)}


def compare(
    policy: Policy | str,
    env: str | gymnasium.Env[Any, Any],
    episodes: int = 1,
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
    references: dict[str, dict[str, Any]] | None = None,
    bound: bool = False,
) -> Comparison:
    """A policy against the CC-CV of equal charge time and CC-CV at 0.5C / 1C / 2C, every entropy with its time.

    Reductions are in per cent of the CC-CV figure (positive: the policy produces less). ``references`` reuses
    reference runs already made on the same env, episodes and seed (the command line shares them across policies).
    With ``bound``, the open-loop entropy-optimal charge (:func:`eomctl.evaluation.optimal.optimal_charge`) is solved
    for each episode at its own charge time and start, and the policy's gap to it is reported (about a minute per
    solve).
    """
    built = as_env(env, overrides)
    evaluation = evaluate_policy(policy, built, episodes, seed)
    mine = _pair(evaluation)
    # 0.3 %, tighter than the 1 % the harness guarantees: at equal time entropy differs by only a few per cent
    # (docs/physics.md §5), and a 1 % time gap alone moves entropy by about 1 %.
    rate_c, matched = matched_time_cccv(mine["charge_time_s"], built, seed, episodes=episodes, rtol=0.003)
    theirs = _pair(matched)
    return Comparison(
        policy=evaluation.policy,
        env_id=evaluation.env_id,
        episodes=episodes,
        seed=seed,
        summary=evaluation.summary(),
        headline=mine,
        matched_time_cccv={
            "rate_c": rate_c,
            **theirs,
            "policy_charge_time_s": mine["charge_time_s"],
            "entropy_reduction_pct": _reduction_pct(theirs["entropy_j_per_k"], mine["entropy_j_per_k"]),
            "lli_reduction_pct": _reduction_pct(theirs["lli_pct"], mine["lli_pct"]),
            "irreversible_lli_reduction_pct": _reduction_pct(
                theirs["irreversible_lli_pct"], mine["irreversible_lli_pct"]
            ),
            "plating_reduction_pct": _reduction_pct(theirs["plating_ah"], mine["plating_ah"]),
        },
        references=references if references is not None else reference_evaluations(built, episodes, seed),
        optimal_bound=optimal_bound_gap(built, evaluation, seed) if bound else None,
    )


BOUND_METRICS = ("lli_pct", "irreversible_lli_pct", "plating_ah", "peak_temperature_k", "min_anode_potential_v",
                 "solve_s", "iterations")  # fmt: skip


def optimal_bound_gap(env: gymnasium.Env[Any, Any], evaluation: PolicyEvaluation, seed: int) -> dict[str, Any]:
    """The entropy-optimal charge of each evaluated episode at that episode's own charge time and start (the
    episode's draw of SOC, ambient and aging inputs, not the scenario's mean cell), and the policy's gap to it [%]
    (positive: above the bound); means over the episodes that reached the target, each episode in ``per_episode``."""
    base: Any = env.unwrapped
    per_episode: list[dict[str, Any]] = []
    for i, episode in enumerate(evaluation.episodes):
        if not episode.reached_target:
            continue
        env.reset(seed=seed + i)  # the episode's start, drawn as measure_episode drew it
        try:
            result = optimal_charge(
                base.scenario, episode.charge_time_s, initial_state=base.sim.state, controls="requests"
            )
        except ConfigError as exc:
            per_episode.append({"seed": seed + i, "error": str(exc)})
            continue
        bound_j_per_k = float(result.replay["entropy_j_per_k"])
        replay, fine = result.replay, result.fine_replay
        per_episode.append({
            "seed": seed + i, "time_budget_s": result.time_budget_s, "entropy_j_per_k": bound_j_per_k,
            "policy_entropy_j_per_k": episode.entropy_j_per_k, "status": result.status,
            "converged": result.converged, "iterations": result.iterations, "solve_s": result.solve_time_s,
            "gap_pct": (episode.entropy_j_per_k / bound_j_per_k - 1.0) * 100.0,
            "lli_pct": replay.get("lli_pct", np.nan),
            "irreversible_lli_pct": replay.get("irreversible_lli_pct", np.nan),
            "plating_ah": replay.get("plating_ah", np.nan), "peak_temperature_k": fine["peak_temperature_k"],
            "min_anode_potential_v": fine["min_anode_potential_v"],
        })  # fmt: skip
    solved = [row for row in per_episode if "error" not in row]
    if not solved:
        reasons = "; ".join(row["error"] for row in per_episode)
        return {"error": reasons or "the policy did not reach the target: no charge-time budget to solve the bound for"}
    statuses = sorted({row["status"] for row in solved})
    means = {k: float(np.mean([row[k] for row in solved])) for k in BOUND_METRICS}
    return {
        **means,
        "converged": all(row["converged"] for row in solved),  # any other result is marked, not passed as a bound
        "time_budget_s": float(np.mean([row["time_budget_s"] for row in solved])),
        "entropy_j_per_k": float(np.mean([row["entropy_j_per_k"] for row in solved])),
        "status": statuses[0] if len(statuses) == 1 else "/".join(statuses),
        "gap_pct": float(np.mean([row["gap_pct"] for row in solved])),
        "per_episode": per_episode,
    }


TABLE_COLUMNS = (
    "label", "policy", "charge_time_s", "entropy_j_per_k", "lli_pct", "irreversible_lli_pct", "plating_ah",
    "success_rate",
)  # fmt: skip


def table_rows(record: Comparison) -> list[dict[str, Any]]:
    """Policy, matched-time CC-CV and reference CC-CV rows, with the EEZ columns.

    The front is that of these rows together with the sweep stored for the env
    (:func:`eomctl.evaluation.sweep.stored_front`), so ``in_eez`` says whether the policy is near-Pareto among the
    standard protocols and the optimal-control bound.
    """
    rows = [{"label": "policy", **record.headline}, {"label": "cccv_matched_time", **record.matched_time_cccv}]
    rows += [{"label": name, **pair} for name, pair in record.references.items()]
    rows = [{k: row.get(k) for k in TABLE_COLUMNS} for row in rows]
    stored = stored_front(record.env_id)
    annotated = annotate_front([{**r, "reached_target": r["success_rate"]} for r in rows] + stored)
    keys = ("on_front", "in_eez", "eez_distance")
    return [{**r, **{k: a[k] for k in keys}} for r, a in zip(rows, annotated[: len(rows)], strict=True)]


# ------------------------------------------------------------------------------------------------ command line


def format_table(records: Sequence[Comparison], references: Mapping[str, Mapping[str, Any]]) -> str:
    """A compact text table: each policy, its matched-time CC-CV and the references, entropy next to time."""
    lines = [
        f"{'policy':<44} {'t_charge [s]':>12} {'Sigma [J/K]':>11} {'LLI [%]':>8} {'irrev [%]':>9} {'success':>7}  "
        "vs CC-CV"
    ]

    def row(pair: Mapping[str, Any], extra: str = "") -> str:
        return (
            f"{pair['policy'][:44]:<44} {pair['charge_time_s']:>12.0f} {pair['entropy_j_per_k']:>11.3f} "
            f"{pair['lli_pct']:>8.4f} {pair['irreversible_lli_pct']:>9.4f} {pair['success_rate']:>7.0%}  {extra}"
        )

    for record in records:
        m = record.matched_time_cccv
        lines.append(
            row(
                record.headline,
                f"Sigma {-m['entropy_reduction_pct']:+.2f} %, LLI {-m['lli_reduction_pct']:+.2f} %, irreversible "
                f"{-m['irreversible_lli_reduction_pct']:+.2f} % vs matched",
            )
        )
        lines.append(row(m, f"matched time ({m['rate_c']:.3f}C) {m.get('note', '')}"))
        bound = record.optimal_bound
        if bound is not None:
            if "error" in bound:
                lines.append(f"{'  optimal-control bound':<44} {bound['error']}")
            else:
                numbers = f"{bound['time_budget_s']:>12.0f} {bound['entropy_j_per_k']:>11.3f}"
                # A solve that did not converge is a feasible profile, not a bound: said on its line.
                mark = "" if bound.get("converged", True) else f"   NOT CONVERGED ({bound['status']})"
                lines.append(f"{'  optimal-control bound':<44} {numbers}   policy {bound['gap_pct']:+.2f} %{mark}")
    lines.extend(row(pair, "reference") for pair in references.values())
    return "\n".join(lines)
