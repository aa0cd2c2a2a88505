"""The observation of a charge: one builder for the env and for the lifetime engine's charge phase.

Features are named quantities with documented clipping bounds (:data:`BOUNDS`); a scenario picks the full set (model
internals included: the anode potential, entropy, ``lambda~``) or the BMS set (what a battery management system
measures: voltage, current, temperature and a coulomb-counted SOC estimate). :func:`charge_features` measures every
feature of a charge from three simulator states (the charge's start, the previous step's end and now), so the env and
the lifetime engine see a policy's observation built the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from eomctl.cell.simulator import StepResult
from eomctl.charging.scenarios import Scenario
from eomctl.core.constants import SECONDS_PER_HOUR

# Observation features: name -> (low, high). Values are clipped to these documented bounds (a safety net: a physical
# episode stays well inside them); "c_rate" is bounded by the scenario's c_rate_max instead.
BOUNDS: dict[str, tuple[float, float]] = {
    "soc": (0.0, 1.2),
    "voltage_v": (0.0, 5.0),
    "temperature_k": (200.0, 400.0),
    "c_rate": (0.0, 20.0),
    "time_used_frac": (0.0, 1.0),
    "time_left_frac": (-1.0, 1.0),
    "entropy_j_per_k": (0.0, 1000.0),
    "lambda_tilde": (0.0, 100.0),
    "anode_potential_v": (-1.0, 2.0),
    "soh": (0.0, 1.5),
    "soc_estimate": (0.0, 1.2),
    "required_c_rate": (0.0, 20.0),
}
FULL_FEATURES = (
    "soc",
    "voltage_v",
    "temperature_k",
    "c_rate",
    "time_used_frac",
    "time_left_frac",
    "entropy_j_per_k",
    "lambda_tilde",
    "anode_potential_v",
    "soh",
)
BMS_FEATURES = ("voltage_v", "c_rate", "temperature_k", "soc_estimate")


@dataclass(frozen=True)
class ObservationSpace:
    """The features a scenario observes, in order, with their clipping bounds."""

    features: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of(cls, scenario: Scenario) -> ObservationSpace:
        """The scenario's feature set (``observation: full | bms``). With a deadline, a BMS set adds the time left, and
        either set adds the required C-rate: the mean current that would deliver the rest of the charge by the deadline,
        from the coulomb-counted SOC, as a charger with a deadline computes it. The first Deadline policy, given SOC and
        time left apart, charged 41 % faster than each deadline required."""
        features: tuple[str, ...] = FULL_FEATURES if scenario.observation == "full" else BMS_FEATURES
        if scenario.deadline_s is not None:
            extra = ("required_c_rate",) if scenario.observation == "full" else ("time_left_frac", "required_c_rate")
            features += extra
        # past the deadline the required rate is unbounded: it is held at twice the most the charger may give
        bounds = dict(BOUNDS, c_rate=(0.0, scenario.c_rate_max), required_c_rate=(0.0, 2.0 * scenario.c_rate_max))
        low = np.array([bounds[f][0] for f in features], dtype=np.float32)
        high = np.array([bounds[f][1] for f in features], dtype=np.float32)
        return cls(features, low, high)

    def vector(self, values: Mapping[str, float]) -> np.ndarray:
        """The observation: ``values`` of the features in order, clipped to the bounds, as float32."""
        raw = np.array([values[name] for name in self.features], dtype=np.float64)
        return np.clip(raw, self.low, self.high).astype(np.float32)


def charge_features(
    start: StepResult,
    before: StepResult,
    now: StepResult,
    *,
    soc_0: float,
    capacity_ah: float,
    time_limit_s: float,
    deadline_s: float | None,
    soh: float,
    target_soc: float,
) -> dict[str, float]:
    """Every observation feature of state ``now`` of a charge that began at ``start`` (``before``: the previous step's
    end; ``soc_0``: the SOC the BMS's coulomb count starts from).

    Time, entropy and ``lambda~ = t Sigma_dot / Sigma`` (the dimensionless entropy-production rate; it is 1 for a
    constant dissipation, see docs/analytics.md) count from ``start``; the current is the previous step's mean.
    ``required_c_rate`` is ``(target_soc - soc_estimate) / hours left`` before the deadline (else the time limit), 0
    once the target is reached and infinite when no time is left (the observation clips it).
    """
    elapsed_s = now.time_s - start.time_s
    step_s = now.time_s - before.time_s
    entropy = now.totals["entropy_j_per_k"] - start.totals["entropy_j_per_k"]
    step_entropy = now.totals["entropy_j_per_k"] - before.totals["entropy_j_per_k"]
    charge_in_ah = now.totals["charge_in_ah"] - start.totals["charge_in_ah"]
    step_ah = now.totals["charge_in_ah"] - before.totals["charge_in_ah"]
    current_a = step_ah * SECONDS_PER_HOUR / step_s if step_s > 0 else 0.0
    rate = step_entropy / step_s if step_s > 0 else 0.0
    soc_estimate = soc_0 + charge_in_ah / capacity_ah
    left_s = (deadline_s if deadline_s is not None else time_limit_s) - elapsed_s
    to_go = max(target_soc - soc_estimate, 0.0)
    required = to_go * SECONDS_PER_HOUR / left_s if left_s > 0 else (math.inf if to_go > 0 else 0.0)
    return {
        "soc": now.soc,
        "voltage_v": now.voltage_v,
        "temperature_k": now.temperature_k,
        "current_a": current_a,
        "c_rate": current_a / capacity_ah,
        "time_used_frac": elapsed_s / time_limit_s,
        "time_left_frac": left_s / time_limit_s,
        "entropy_j_per_k": entropy,
        "entropy_rate_w_per_k": rate,
        "lambda_tilde": elapsed_s * rate / entropy if entropy > 1e-12 else 0.0,
        "anode_potential_v": now.anode_potential_v,
        "soh": soh,
        "soc_estimate": soc_estimate,
        "required_c_rate": required,
    }
