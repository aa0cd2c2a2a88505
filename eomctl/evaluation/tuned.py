"""A policy against baselines tuned to its charge time on training draws, compared on held-out draws.

The fair comparison the project promises: each baseline family (CC-CV, a derated charger, ...) has one free scale
(its nominal rate), tuned by :func:`~eomctl.evaluation.evaluate.matched_time` so that its mean charge time over the
*training* draws equals the policy's over the same draws; then the policy and every tuned baseline run the same
*held-out* draws (other seeds: other ambients, start SOCs, cells and aging states), and each metric is compared as
paired differences with a bootstrap 95 % interval (:mod:`eomctl.evaluation.paired`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gymnasium
import numpy as np

from eomctl.evaluation.evaluate import as_env, evaluate_policy, matched_time
from eomctl.evaluation.paired import paired_difference
from eomctl.policies.baselines import CCCO, CCCV, Derated, Rate
from eomctl.policies.protocol import Policy

#: Baseline families a policy is compared with: name -> (scale -> charger, the scale's range [C]). Each has one free
#: scale, its nominal rate, tuned to the policy's charge time. "ccco" needs the anode potential, which no charger
#: measures: an oracle reference, labelled so wherever it is shown.
FAMILIES: dict[str, tuple[Callable[[float], Policy], tuple[float, float]]] = {
    "cccv": (lambda x: CCCV(rate=Rate(x), vmax=4.2, cutoff=Rate(0.05)), (0.1, 3.0)),
    "derated": (lambda x: Derated(rates=(Rate(x),), table="jeita"), (0.1, 3.0)),
    "derated_soc": (lambda x: Derated(rates=(Rate(x),), table="jeita_soc"), (0.1, 3.0)),
    "derated_multistage": (
        lambda x: Derated(rates=(Rate(x), Rate(x * 2 / 3), Rate(x / 3)), switch_soc=(0.3, 0.5), table="jeita"),
        (0.1, 3.0),
    ),
    "ccco_oracle": (lambda x: CCCO(rate=Rate(x), margin=0.0), (0.1, 3.0)),
}
METRICS = ("charge_time_s", "entropy_j_per_k", "irreversible_lli_pct", "plating_ah", "peak_temperature_k")
TRAIN_SEED, HELD_OUT_SEED = 0, 100_000  # draws for tuning and for the comparison never overlap


def tuned_comparison(
    policy: Policy | str,
    families: Mapping[str, tuple[Callable[[float], Policy], tuple[float, float]]],
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
        Name -> (``scale -> policy``, the scale's search range), e.g. a selection of :data:`FAMILIES`.
    env : str or gymnasium.Env
        The scenario (its draws are what differ between seeds).
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
    trained = evaluate_policy(policy, built, train_episodes, TRAIN_SEED)
    held = evaluate_policy(policy, built, held_out_episodes, HELD_OUT_SEED)
    target_s = trained.mean("charge_time_s")
    rows: list[dict[str, Any]] = []
    for name, (family, scale_range) in families.items():
        scale, tuned = matched_time(family, target_s, built, TRAIN_SEED, episodes=train_episodes,
                                    scale_range=scale_range)  # fmt: skip
        baseline = evaluate_policy(family(scale), built, held_out_episodes, HELD_OUT_SEED)
        for metric in METRICS:
            a = np.array([getattr(e, metric) for e in held.episodes], dtype=float)
            b = np.array([getattr(e, metric) for e in baseline.episodes], dtype=float)
            kept = np.isfinite(a) & np.isfinite(b)  # a solver failure (NaN) drops that draw from both sides
            diff = paired_difference(metric, a[kept], b[kept])
            rows.append({
                "family": name, "spec": baseline.policy, "scale": scale, "tuning_note": tuned.note,
                "policy_train_time_s": target_s, "metric": metric, "n": diff.n, "policy_mean": diff.mean_a,
                "baseline_mean": diff.mean_b, "difference": diff.difference, "low": diff.low, "high": diff.high,
                "relative_pct": diff.relative_pct, "dropped": int(np.sum(~kept)),
            })  # fmt: skip
    return rows
