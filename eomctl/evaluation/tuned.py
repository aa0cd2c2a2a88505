"""A policy against baselines tuned to its charge time on training draws, compared on held-out draws.

The fair comparison the project promises: each baseline family (CC-CV, a derated charger, ...) has one free scale
(its nominal rate), tuned by :func:`~eomctl.evaluation.evaluate.matched_time` so that its mean charge time over the
*training* draws equals the policy's over the same draws; then the policy and every tuned baseline run the same
*held-out* draws (other seeds: other ambients, start SOCs, cells and aging states), and each metric is compared as
paired differences with a bootstrap 95 % interval (:mod:`eomctl.evaluation.paired`).

Oracle references, each labelled so where shown, choose on each held-out draw knowing it: a family matched to the
policy's time or the draw's deadline there (:func:`per_draw_comparison`), the model-predictive charger at the
policy's time (:func:`mpc_on_draw`), and the room to the bound (:func:`room_on_draw`, :func:`room_summary`).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium
import numpy as np

from eomctl.core.errors import ConfigError
from eomctl.evaluation.evaluate import (
    PolicyEvaluation,
    as_env,
    cv_voltage_v,
    evaluate_policy,
    matched_time,
    measure_episode,
)
from eomctl.evaluation.optimal import optimal_charge
from eomctl.evaluation.paired import PairedDifference, paired_difference
from eomctl.policies.baselines import CCCO, CCCV, Derated, Rate
from eomctl.policies.protocol import Policy
from eomctl.policies.specs import parse_policy

#: Baseline families a policy is compared with: name -> (``(scale, v_max_v) -> charger``, the scale's range [C], its
#: upper end capped at the scenario's ``c_rate_max`` by :func:`scale_reach`). Each has one free scale, its nominal
#: rate, tuned to the policy's charge time; ``v_max_v`` is the env's CV voltage (the cell's cut-off unless the
#: scenario sets one). "ccco" needs the anode potential, which no charger measures: an oracle
#: reference, labelled so wherever it is shown.
Family = Callable[[float, float], Policy]
FAMILIES: dict[str, tuple[Family, tuple[float, float]]] = {
    "cccv": (lambda x, v: CCCV(rate=Rate(x), vmax=v, cutoff=Rate(0.05)), (0.1, math.inf)),
    "derated": (lambda x, v: Derated(rates=(Rate(x),), table="jeita", vmax=v), (0.1, math.inf)),
    "derated_soc": (lambda x, v: Derated(rates=(Rate(x),), table="jeita_soc", vmax=v), (0.1, math.inf)),
    "derated_multistage": (
        lambda x, v: Derated(
            rates=(Rate(x), Rate(x * 2 / 3), Rate(x / 3)), switch_soc=(0.3, 0.5), table="jeita", vmax=v
        ),
        (0.1, math.inf),
    ),
    "ccco_oracle": (lambda x, v: CCCO(rate=Rate(x), margin=0.0), (0.1, math.inf)),
}
#: Families a real charger can run (everything but the oracle): the "best BMS baseline" is the best of these.
BMS_FAMILIES = ("cccv", "derated", "derated_soc", "derated_multistage")
METRICS = ("charge_time_s", "entropy_j_per_k", "irreversible_lli_pct", "plating_ah", "peak_temperature_k")
ROOM_METRICS = {"irreversible": "irreversible_lli_pct", "entropy": "entropy_j_per_k"}  # bound objective -> metric
# 0.3 %: at equal time entropy differs by a few tenths of a per cent (docs/physics.md §5) and a 1 % gap in charge
# time alone moves it by about 1 %, so a looser tuning would decide the entropy comparison by itself.
TUNING_RTOL = 0.003
TRAIN_SEED, HELD_OUT_SEED = 0, 100_000  # draws for tuning and for the comparison never overlap


def tuned_comparison(
    policy: Policy | str,
    families: Mapping[str, tuple[Family, tuple[float, float]]],
    env: str | gymnasium.Env[Any, Any],
    train_episodes: int = 10,
    held_out_episodes: int = 30,
    overrides: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Per baseline family: its tuned scale and spec, and per metric the paired difference policy - baseline.

    Parameters
    ----------
    policy : Policy or str
        The policy under test (a spec or a model path is parsed).
    families : mapping
        Name -> (``(scale, v_max_v) -> policy``, the scale's search range), e.g. a selection of :data:`FAMILIES`.
    env : str or gymnasium.Env
        The scenario (its draws are what differ between seeds). A scenario that draws nothing has one episode: it
        runs once on each side and the difference is exact (``n`` 1, the interval a point).
    train_episodes, held_out_episodes : int
        Draws for tuning (seeds from ``TRAIN_SEED``) and for the comparison (seeds from ``HELD_OUT_SEED``).

    Returns
    -------
    list of dict
        One row per family and metric: ``family, spec, scale, tuning_note, metric, n, policy_mean, baseline_mean,
        difference, low, high, relative_pct, dropped`` (negative: the policy lower; ``dropped``: draws left out
        because either side's value was not finite).
    """
    built = as_env(env, overrides)
    if not built.unwrapped.scenario.randomised:  # type: ignore[attr-defined]
        train_episodes = held_out_episodes = 1  # every seed is the same episode
    vmax_v = cv_voltage_v(built)
    trained = evaluate_policy(policy, built, train_episodes, TRAIN_SEED)
    held = evaluate_policy(policy, built, held_out_episodes, HELD_OUT_SEED)
    target_s = trained.mean("charge_time_s")
    deadlines_s = _deadlines(built, HELD_OUT_SEED, held_out_episodes)
    rows: list[dict[str, Any]] = []
    for name, (family, scale_range) in families.items():
        scale, tuned = matched_time(functools.partial(_at_voltage, family, vmax_v), target_s, built, TRAIN_SEED,
                                    episodes=train_episodes, scale_range=scale_reach(scale_range, built),
                                    rtol=TUNING_RTOL)  # fmt: skip
        baseline = evaluate_policy(family(scale, vmax_v), built, held_out_episodes, HELD_OUT_SEED)
        note = tuned.note
        if deadlines_s is not None:  # equal mean time says nothing of each draw's deadline: count who met it
            note += (f"; late on the held-out draws: policy {_late(held.episodes, deadlines_s)}, baseline "
                     f"{_late(baseline.episodes, deadlines_s)} of {len(deadlines_s)}")  # fmt: skip
        label = {"family": name, "spec": baseline.policy, "scale": scale, "tuning_note": note,
                 "policy_train_time_s": target_s}  # fmt: skip
        rows += _paired_rows(label, held.episodes, baseline.episodes)
    return rows


def _deadlines(env: gymnasium.Env[Any, Any], first_seed: int, episodes: int) -> list[float] | None:
    """The deadline [s] of each draw ``first_seed``, ``first_seed + 1``, ..., or None for a scenario without one."""
    if env.unwrapped.scenario.deadline_s is None:  # type: ignore[attr-defined]
        return None
    return [_deadline_s(env, first_seed + i) for i in range(episodes)]


def _deadline_s(env: gymnasium.Env[Any, Any], seed: int) -> float:
    """The deadline [s] the draw ``seed`` sets (:class:`ConfigError` in a scenario without deadlines)."""
    deadline_s = env.reset(seed=seed)[1]["deadline_s"]
    if deadline_s is None:
        raise ConfigError("per-draw target 'deadline' needs a scenario with deadline_s")
    return float(deadline_s)


def _late(episodes: Sequence[Any], deadlines_s: Sequence[float]) -> int:
    """How many episodes did not reach the target by their draw's deadline."""
    return sum(not (e.reached_target and e.charge_time_s <= d) for e, d in zip(episodes, deadlines_s, strict=True))


def _paired_rows(
    label: Mapping[str, Any],
    policy_runs: Sequence[Any],
    baseline_runs: Sequence[Any],
    left_out: int = 0,
    min_pairs: int = 0,
) -> list[dict[str, Any]]:
    """Per metric of :data:`METRICS`, the paired difference policy - baseline over the draws both ran (``label``'s
    keys first). A solver failure (NaN) drops that draw from both sides; ``dropped`` counts those and the ``left_out``
    draws never paired; a metric with fewer than ``min_pairs`` finite pairs gets no row."""
    rows = []
    for metric in METRICS:
        a = np.array([getattr(e, metric) for e in policy_runs], dtype=float)
        b = np.array([getattr(e, metric) for e in baseline_runs], dtype=float)
        kept = np.isfinite(a) & np.isfinite(b)
        if kept.sum() < min_pairs:
            continue
        diff = _difference(metric, a[kept], b[kept])
        rows.append({
            **label, "metric": metric, "n": diff.n, "policy_mean": diff.mean_a, "baseline_mean": diff.mean_b,
            "difference": diff.difference, "low": diff.low, "high": diff.high, "relative_pct": diff.relative_pct,
            "dropped": left_out + int(np.sum(~kept)),
        })  # fmt: skip
    return rows


def scale_reach(scale_range: tuple[float, float], env: gymnasium.Env[Any, Any]) -> tuple[float, float]:
    """A family's scale range with its upper end at most the scenario's ``c_rate_max`` (a larger rate asks for
    current the env clips). The ranges in :data:`FAMILIES` reach to it: with a fixed 3C the LFP scenario's CC-CV
    (``c_rate_max`` 4C) could not be tuned to its policy's charge time."""
    lo_c, hi_c = scale_range
    return lo_c, min(hi_c, float(env.unwrapped.scenario.c_rate_max))  # type: ignore[attr-defined]


def _at_voltage(family: Family, vmax_v: float, scale: float) -> Policy:
    return family(scale, vmax_v)


def _difference(metric: str, a: Any, b: Any) -> PairedDifference:
    """:func:`paired_difference`, or for one pair (a scenario that draws nothing) the exact difference."""
    if a.size == 1 and b.size == 1:
        d = float(a[0] - b[0])
        return PairedDifference(metric, 1, float(a[0]), float(b[0]), d, d, d)
    return paired_difference(metric, a, b)


def best_bms_baseline(rows: Sequence[Mapping[str, Any]], metric: str = "irreversible_lli_pct") -> str | None:
    """The BMS-implementable family (:data:`BMS_FAMILIES`) with the lowest held-out mean of ``metric`` in ``rows``
    (:func:`tuned_comparison`'s), or None when none was compared."""
    candidates = [r for r in rows if r["metric"] == metric and r["family"] in BMS_FAMILIES]
    return min(candidates, key=lambda r: r["baseline_mean"])["family"] if candidates else None


def matched_on_draw(
    family: Family, scale_range: tuple[float, float], env: gymnasium.Env[Any, Any], seed: int, target_s: float
) -> tuple[float, PolicyEvaluation, bool]:
    """The family's scale whose charge of the draw ``seed`` takes ``target_s`` (to :data:`TUNING_RTOL`), its episode,
    and whether it got there (False: the target is out of the family's reach on that draw, the nearest returned).

    An oracle tuning: a charger cannot know the draw (its ambient, aging, start) before it charges.
    """
    scale, matched = matched_time(functools.partial(_at_voltage, family, cv_voltage_v(env)), target_s, env, seed,
                                  episodes=1, scale_range=scale_reach(scale_range, env),
                                  rtol=TUNING_RTOL)  # fmt: skip
    return scale, matched, abs(matched.episodes[0].charge_time_s / target_s - 1.0) < TUNING_RTOL


def per_draw_comparison(
    policy: Policy | str,
    family: Family,
    scale_range: tuple[float, float],
    env: str | gymnasium.Env[Any, Any],
    seeds: Sequence[int],
    name: str,
    overrides: dict[str, Any] | None = None,
    target: str = "policy",
) -> list[dict[str, Any]]:
    """The policy against a baseline family matched on *each* draw (:func:`matched_on_draw`, an oracle reference: the
    rate is chosen knowing the draw), as paired differences over the draws it could match.

    ``target`` is the time matched: "policy", the policy's charge time on the draw (equal charge time); or
    "deadline", the draw's deadline (a deadline scenario: the charger that just meets it, the comparison the user's
    deadline calls for, whatever time the policy takes).

    Returns rows in :func:`tuned_comparison`'s form, family ``name``; ``scale`` is the median matched rate and
    ``dropped`` counts the draws left out (the policy did not finish, the family could not reach its time, or a
    value was not finite).
    """
    if target not in ("policy", "deadline"):
        raise ConfigError(f"per-draw target must be 'policy' or 'deadline'; got {target!r}")
    built = as_env(env, overrides)
    mine = parse_policy(policy) if isinstance(policy, str) else policy
    pairs, scales, late = [], [], 0
    for seed in seeds:
        p = measure_episode(mine, built, seed)[0]
        if not p.reached_target:
            continue
        target_s = p.charge_time_s
        if target == "deadline":
            target_s = _deadline_s(built, seed)
            late += p.charge_time_s > target_s
        scale, matched, on_time = matched_on_draw(family, scale_range, built, seed, target_s)
        if on_time:
            pairs.append((p, matched.episodes[0]))
            scales.append(scale)
    spec = f"{name}: rate matched to the {'policy' if target == 'policy' else 'deadline'} on each draw"
    note = (f"matched within {100 * TUNING_RTOL:.1f} % on {len(pairs)} of {len(seeds)} draws, "
            f"{min(scales):.3g}-{max(scales):.3g}C" if scales else "matched on no draw")  # fmt: skip
    if target == "deadline":
        note += f"; the policy finished after the deadline on {late} draw(s)"
    label = {"family": name, "spec": spec, "scale": float(np.median(scales)) if scales else math.nan,
             "tuning_note": note, "policy_train_time_s": math.nan}  # fmt: skip
    return _paired_rows(label, [p for p, _ in pairs], [q for _, q in pairs], len(seeds) - len(pairs), min_pairs=2)


def mpc_on_draw(
    policy: Policy | str,
    env: str | gymnasium.Env[Any, Any],
    seed: int,
    state: str,
    objective: str = "irreversible",
    overrides: dict[str, Any] | None = None,
    horizon_s: float = 600.0,
    replan_s: float = 120.0,
) -> dict[str, Any]:
    """The model-predictive charger (:class:`~eomctl.policies.mpc.MPC`, ``state`` "oracle" or "ekf") on one draw at
    the policy's charge time there: its ``rate`` is the CC-CV rate whose charge of the draw takes as long as the
    policy's (an oracle choice of time, like :func:`matched_on_draw`), and it spends that time minimising the
    ``objective``. A reference, never a baseline: the oracle reads the simulator's state, and both know the draw's
    charge time. Returns both episodes' times and metrics and a ``status``.
    """
    built = as_env(env, overrides)
    p = measure_episode(parse_policy(policy) if isinstance(policy, str) else policy, built, seed)[0]
    row: dict[str, Any] = {"seed": seed, "state": state, "objective": objective,
                           "policy_time_s": p.charge_time_s}  # fmt: skip
    row.update({f"policy_{m}": getattr(p, m) for m in METRICS if m != "charge_time_s"})
    if not p.reached_target:
        return {**row, "status": "policy did not finish"}
    rate_c, cccv, on_time = matched_on_draw(*FAMILIES["cccv"], built, seed, p.charge_time_s)
    row.update(cccv_rate_c=rate_c, cccv_time_s=cccv.episodes[0].charge_time_s)
    if not on_time:
        return {**row, "status": "no CC-CV of the policy's time on this draw"}
    spec = (f"mpc:rate={rate_c:.6g}C,horizon_s={horizon_s:g},replan_s={replan_s:g},objective={objective},"
            f"state={state}")  # fmt: skip
    tic = time.perf_counter()
    m = measure_episode(parse_policy(spec), built, seed)[0]
    row.update(spec=spec, mpc_time_s=m.charge_time_s, wall_s=time.perf_counter() - tic,
               status="finished" if m.reached_target else f"did not finish ({m.stopped_by})")  # fmt: skip
    row.update({f"mpc_{metric}": getattr(m, metric) for metric in METRICS if metric != "charge_time_s"})
    return row


def room_to_bound(
    policy: Policy | str,
    family: Family,
    scale_range: tuple[float, float],
    env: str | gymnasium.Env[Any, Any],
    seeds: Sequence[int],
    objective: str = "irreversible",
    overrides: dict[str, Any] | None = None,
    max_wall_time_s: float = 300.0,
) -> dict[str, Any]:
    """The share of the room to the bound a policy captures on given draws: :func:`room_on_draw` on each, summed up
    by :func:`room_summary`."""
    built = as_env(env, overrides)
    mine = parse_policy(policy) if isinstance(policy, str) else policy
    per_draw = [room_on_draw(mine, family, scale_range, built, seed, objective, max_wall_time_s) for seed in seeds]
    return room_summary(per_draw, objective)


def room_on_draw(
    policy: Policy | str,
    family: Family,
    scale_range: tuple[float, float],
    env: str | gymnasium.Env[Any, Any],
    seed: int,
    objective: str = "irreversible",
    max_wall_time_s: float = 300.0,
) -> dict[str, Any]:
    """The policy, the baseline family and the bound on one draw, all at the same charge time and start, in the
    metric the ``objective`` minimises.

    The policy runs the draw; the baseline family's scale is tuned (:func:`matched_on_draw`, to
    :data:`TUNING_RTOL`) so that its charge of *that draw* takes as long as the policy's (an oracle tuning: a charger
    cannot know the draw, which is why the scorecard tunes on the mean of training draws instead); and the bound
    (:func:`eomctl.evaluation.optimal.optimal_charge`, the request class) is solved from the draw's start (its SOC,
    ambient, spread and aging inputs) with the policy's charge time as the budget. ``status`` says whether the bound
    is usable: "optimal", or why not (the policy did not finish, the baseline could not be matched, the solve).
    """
    metric = ROOM_METRICS[objective]
    built = as_env(env, None)
    base: Any = built.unwrapped
    p = measure_episode(parse_policy(policy) if isinstance(policy, str) else policy, built, seed)[0]
    row: dict[str, Any] = {"seed": seed, "policy": getattr(p, metric), "policy_time_s": p.charge_time_s}
    if not p.reached_target:
        return {**row, "baseline": math.nan, "bound": math.nan, "status": "policy did not finish"}
    _, matched, on_time = matched_on_draw(family, scale_range, built, seed, p.charge_time_s)
    b = matched.episodes[0]
    row.update(baseline=getattr(b, metric), baseline_spec=matched.policy, baseline_time_s=b.charge_time_s,
               baseline_note=matched.note)  # fmt: skip
    if not on_time:  # out of the family's reach on this draw
        return {**row, "bound": math.nan, "status": "baseline not matched"}
    built.reset(seed=seed)  # the draw's start, as measure_episode drew it
    try:
        result = optimal_charge(base.scenario, p.charge_time_s, initial_state=base.sim.state, objective=objective,
                                controls="requests", max_wall_time_s=max_wall_time_s)  # fmt: skip
        row.update(bound=float(result.replay[metric]), status=result.status, solve_s=result.solve_time_s)
    except ConfigError as exc:
        row.update(bound=math.nan, status=f"error: {exc}")
    return row


def room_summary(per_draw: Sequence[Mapping[str, Any]], objective: str) -> dict[str, Any]:
    """``(baseline - policy) / (baseline - bound)`` of the means over the draws (:func:`room_on_draw`'s rows) whose
    bound is a bound: solved to "optimal" and no higher than either charger on that draw. A solve that comes out
    above the policy (or the baseline) found a local optimum, not the least the draw allows: that draw has no bound,
    is counted in ``above_a_charger`` and left out of the means, as is every draw whose status is not "optimal"."""
    solved = [r for r in per_draw if r["status"] == "optimal" and math.isfinite(r["bound"])]
    kept = [r for r in solved if has_bound(r)]
    means = {k: float(np.mean([r[k] for r in kept])) if kept else math.nan for k in ("policy", "baseline", "bound")}
    room = means["baseline"] - means["bound"]
    captured = (means["baseline"] - means["policy"]) / room if kept and room > 0 else math.nan
    return {"metric": ROOM_METRICS[objective], "objective": objective, "n": len(kept), **means, "room": room,
            "room_pct": 100.0 * room / means["baseline"] if kept and means["baseline"] else math.nan,
            "captured": captured, "above_a_charger": len(solved) - len(kept), "per_draw": list(per_draw)}  # fmt: skip


def has_bound(draw: Mapping[str, Any]) -> bool:
    """Whether a draw (:func:`room_on_draw`'s row) has a bound: solved to "optimal" and no higher than either charger
    on it (to a relative 1e-6, the solver's tolerance). A solve above a charger that ran the same draw in the same
    time is a local optimum of the solve, not the least that draw allows."""
    bound = float(draw.get("bound", math.nan))
    top = min(float(draw.get("policy", math.nan)), float(draw.get("baseline", math.nan)))
    return draw.get("status") == "optimal" and math.isfinite(bound) and bound <= top + 1e-6 * abs(top)
