"""A policy against baselines tuned to its charge time on training draws, compared on held-out draws.

The fair comparison the project promises: each baseline family (CC-CV, a derated charger, ...) has one free scale
(its nominal rate), tuned by :func:`~eomctl.evaluation.evaluate.matched_time` so that its mean charge time over the
*training* draws equals the policy's over the same draws; then the policy and every tuned baseline run the same
*held-out* draws (other seeds: other ambients, start SOCs, cells and aging states), and each metric is compared as
paired differences with a bootstrap 95 % interval (:mod:`eomctl.evaluation.paired`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium
import numpy as np

from eomctl.core.errors import ConfigError
from eomctl.evaluation.evaluate import as_env, cv_voltage_v, evaluate_policy, matched_time, measure_episode
from eomctl.evaluation.optimal import optimal_charge
from eomctl.evaluation.paired import PairedDifference, paired_difference
from eomctl.policies.baselines import CCCO, CCCV, Derated, Rate
from eomctl.policies.protocol import Policy
from eomctl.policies.specs import parse_policy

#: Baseline families a policy is compared with: name -> (``(scale, v_max_v) -> charger``, the scale's range [C]). Each
#: has one free scale, its nominal rate, tuned to the policy's charge time; ``v_max_v`` is the env's CV voltage (the
#: cell's cut-off unless the scenario sets one). "ccco" needs the anode potential, which no charger measures: an oracle
#: reference, labelled so wherever it is shown.
Family = Callable[[float, float], Policy]
FAMILIES: dict[str, tuple[Family, tuple[float, float]]] = {
    "cccv": (lambda x, v: CCCV(rate=Rate(x), vmax=v, cutoff=Rate(0.05)), (0.1, 3.0)),
    "derated": (lambda x, v: Derated(rates=(Rate(x),), table="jeita", vmax=v), (0.1, 3.0)),
    "derated_soc": (lambda x, v: Derated(rates=(Rate(x),), table="jeita_soc", vmax=v), (0.1, 3.0)),
    "derated_multistage": (
        lambda x, v: Derated(
            rates=(Rate(x), Rate(x * 2 / 3), Rate(x / 3)), switch_soc=(0.3, 0.5), table="jeita", vmax=v
        ),
        (0.1, 3.0),
    ),
    "ccco_oracle": (lambda x, v: CCCO(rate=Rate(x), margin=0.0), (0.1, 3.0)),
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
    rows: list[dict[str, Any]] = []
    for name, (family, scale_range) in families.items():
        scale, tuned = matched_time(functools.partial(_at_voltage, family, vmax_v), target_s, built, TRAIN_SEED,
                                    episodes=train_episodes, scale_range=scale_range, rtol=TUNING_RTOL)  # fmt: skip
        baseline = evaluate_policy(family(scale, vmax_v), built, held_out_episodes, HELD_OUT_SEED)
        for metric in METRICS:
            a = np.array([getattr(e, metric) for e in held.episodes], dtype=float)
            b = np.array([getattr(e, metric) for e in baseline.episodes], dtype=float)
            kept = np.isfinite(a) & np.isfinite(b)  # a solver failure (NaN) drops that draw from both sides
            diff = _difference(metric, a[kept], b[kept])
            rows.append({
                "family": name, "spec": baseline.policy, "scale": scale, "tuning_note": tuned.note,
                "policy_train_time_s": target_s, "metric": metric, "n": diff.n, "policy_mean": diff.mean_a,
                "baseline_mean": diff.mean_b, "difference": diff.difference, "low": diff.low, "high": diff.high,
                "relative_pct": diff.relative_pct, "dropped": int(np.sum(~kept)),
            })  # fmt: skip
    return rows


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
    """The share of the room to the bound a policy captures on given draws: ``(baseline - policy) / (baseline -
    bound)`` of the means over the draws, in the metric the ``objective`` minimises.

    All three are taken at the same charge time and start on each draw: the policy runs the draw; the baseline
    family's scale is tuned (:func:`matched_time`, to :data:`TUNING_RTOL`) so that its charge of *that draw* takes
    as long as the policy's (an oracle tuning: a charger cannot know the draw, which is why the scorecard tunes on the
    mean of training draws instead); and the bound (:func:`eomctl.evaluation.optimal.optimal_charge`, the request
    class) is solved from the draw's start (its SOC, ambient, spread and aging inputs) with the policy's charge time
    as the budget. A draw whose baseline cannot be matched, whose policy does not finish, or whose bound is not
    optimal stays in ``per_draw`` with its status and is left out of the means.
    """
    metric = ROOM_METRICS[objective]
    built = as_env(env, overrides)
    base: Any = built.unwrapped
    vmax_v = cv_voltage_v(built)
    mine = parse_policy(policy) if isinstance(policy, str) else policy
    per_draw: list[dict[str, Any]] = []
    for seed in seeds:
        p = measure_episode(mine, built, seed)[0]
        row: dict[str, Any] = {"seed": seed, "policy": getattr(p, metric), "policy_time_s": p.charge_time_s}
        if not p.reached_target:
            per_draw.append({**row, "baseline": math.nan, "bound": math.nan, "status": "policy did not finish"})
            continue
        _, matched = matched_time(functools.partial(_at_voltage, family, vmax_v), p.charge_time_s, built, seed,
                                  episodes=1, scale_range=scale_range, rtol=TUNING_RTOL)  # fmt: skip
        b = matched.episodes[0]
        row.update(baseline=getattr(b, metric), baseline_spec=matched.policy, baseline_time_s=b.charge_time_s,
                   baseline_note=matched.note)  # fmt: skip
        if abs(b.charge_time_s / p.charge_time_s - 1.0) >= TUNING_RTOL:  # out of the family's reach on this draw
            per_draw.append({**row, "bound": math.nan, "status": "baseline not matched"})
            continue
        built.reset(seed=seed)  # the draw's start, as measure_episode drew it
        try:
            result = optimal_charge(base.scenario, p.charge_time_s, initial_state=base.sim.state, objective=objective,
                                    controls="requests", max_wall_time_s=max_wall_time_s)  # fmt: skip
            row.update(bound=float(result.replay[metric]), status=result.status, solve_s=result.solve_time_s)
        except ConfigError as exc:
            row.update(bound=math.nan, status=f"error: {exc}")
        per_draw.append(row)
    kept = [r for r in per_draw if r["status"] == "optimal" and math.isfinite(r["bound"])]
    means = {k: float(np.mean([r[k] for r in kept])) if kept else math.nan for k in ("policy", "baseline", "bound")}
    room = means["baseline"] - means["bound"]
    captured = (means["baseline"] - means["policy"]) / room if kept and room > 0 else math.nan
    return {"metric": metric, "objective": objective, "n": len(kept), **means, "room": room,
            "room_pct": 100.0 * room / means["baseline"] if kept and means["baseline"] else math.nan,
            "captured": captured, "per_draw": per_draw}  # fmt: skip
