"""Tests of the bound over current requests through the env's limit controller (``controls="requests"``).

A 240 s control step (10 env steps for 2400 s) and no degradation or JIT keep these in the default suite; the bound
part of the reproduce command runs the scenarios' own 30 s steps.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from eomctl.cell.request_optimizer import RequestOptimizer
from eomctl.core.errors import ConfigError
from eomctl.evaluation.optimal import (
    _fresh_simulator,
    env_steps,
    load_scenario,
    optimal_charge,
    replay_requests,
)

COARSE = {"simulator": {"compile": False, "degradation": False}, "dt_s": 240.0}
BUDGET_S = 2350.0  # 9 full steps and a 190 s one


def test_env_steps_end_at_the_budget() -> None:
    steps = env_steps(BUDGET_S, 240.0)
    assert len(steps) == 10 and steps[-1] == pytest.approx(190.0)
    assert steps.sum() == pytest.approx(BUDGET_S)
    assert len(env_steps(2400.0, 240.0)) == 10  # no sliver of a step when the budget is a whole number of steps


def _ten_steps_at_request(fraction: float) -> tuple[RequestOptimizer, list[Any], np.ndarray, np.ndarray]:
    """The coarse FastCharge problem (10 steps, 4 directions) at a constant request of ``fraction`` of I_max: the
    optimiser, its parameters, z = 0 and the values there."""
    sc = load_scenario("FastCharge", COARSE)
    sim, limits = _fresh_simulator(sc, None, "controller")
    durations = env_steps(BUDGET_S, sc.dt_s)
    optimizer = RequestOptimizer(sim, limits, durations, n_basis=4)
    params = [sim.state, sim.negative_window, sc.target_soc, np.full(len(durations), fraction)]
    z = np.zeros(optimizer.n_variables)
    return optimizer, params, z, optimizer.values(z, params)


def test_gradient_matches_finite_differences() -> None:
    """The chained forward sensitivities (CVODES where the request holds, IDAS with the controller where a limit
    binds) against central differences of the simulator's own steps. A 1.2C request: the voltage limit binds from
    the fifth step, and no perturbation moves a step's first binding instant across a step's start (a kink, where
    the one-sided derivatives differ: measured at a 2C request)."""
    optimizer, params, z, fg = _ten_steps_at_request(0.3)
    jac = optimizer.jacobian(z, params, fg)
    for j in range(optimizer.n_variables):
        step = np.zeros_like(z)
        step[j] = 2e-2
        central = (optimizer.values(z + step, params)[:3] - optimizer.values(z - step, params)[:3]) / 4e-2
        np.testing.assert_allclose(jac[:3, j], central, rtol=0.01)


def test_finite_difference_fallback_matches_the_sensitivities(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a step's sensitivity integrator fails, central differences of that step through the simulator stand in:
    forced on every step here, they give the sensitivities' Jacobian to 1 % and leave the simulator at the start."""
    optimizer, params, z, fg = _ten_steps_at_request(0.3)
    exact = optimizer.jacobian(z, params, fg)

    def failing(*args: object) -> None:
        raise RuntimeError("sensitivity integrator failed")

    monkeypatch.setattr(optimizer, "_step_sensitivity", failing)
    differences = optimizer.jacobian(z, params, fg)
    np.testing.assert_allclose(differences[:3], exact[:3], rtol=0.01)
    assert optimizer.sim.state is params[0]


@pytest.fixture(scope="module")
def from_a_start() -> tuple[dict[str, float], object]:
    """A 1.4C request (CC-CV through the controller) as the given start, and the bound solved from it."""
    requests = np.full(10, 7.0)
    result = optimal_charge("FastCharge", BUDGET_S, overrides=COARSE, controls="requests",
                            initial_guess_a=requests, max_wall_time_s=120.0)  # fmt: skip
    return result.guess_replay, result


def test_the_bound_is_never_above_the_start_it_was_given(from_a_start: tuple[dict[str, float], object]) -> None:
    start, result = from_a_start
    assert start["final_soc"] >= 0.8  # the start is feasible: a charge the env can run in this time
    assert result.controls == "requests"  # type: ignore[attr-defined]
    assert result.replay["entropy_j_per_k"] <= start["entropy_j_per_k"] + 1e-9  # type: ignore[attr-defined]
    # ... and it still reaches the target in the same time
    assert result.replay["final_soc"] >= 0.8 - 1e-6  # type: ignore[attr-defined]
    assert result.replay["charge_time_s"] == pytest.approx(BUDGET_S)  # type: ignore[attr-defined]


def test_limits_hold_at_every_instant(from_a_start: tuple[dict[str, float], object]) -> None:
    """The controller holds the limits inside every step: nothing passes them on the replay at a tenth of a step."""
    fine = from_a_start[1].fine_replay  # type: ignore[attr-defined]
    assert fine["voltage_excess_mv"] <= 1.0 and fine["temperature_excess_k"] <= 0.05
    # the fine replay charges the same: the controller's current does not depend on how the step is cut
    coarse = from_a_start[1].replay  # type: ignore[attr-defined]
    assert fine["entropy_j_per_k"] == pytest.approx(coarse["entropy_j_per_k"], rel=1e-3)


def test_replay_of_requests_reports_the_controllers_charge() -> None:
    sc = load_scenario("FastCharge", COARSE)
    sim, limits = _fresh_simulator(sc, None, "controller")
    durations = env_steps(BUDGET_S, sc.dt_s)
    asked = replay_requests(sim, np.full(len(durations), limits.current_max_a), durations, limits)
    assert asked["max_voltage_v"] <= limits.v_max_v + 1e-3  # 3C asked, the voltage limit held
    assert asked["final_soc"] > 0.8


def test_a_guess_replays_under_its_own_limits() -> None:
    """A policy that sets its own limit (here a 4.1 V CV, like CC-CO's anode margin) is replayed under it, so
    ``guess_replay`` is its own charge; each step's mean current comes back in ``applied_a``."""
    sc = load_scenario("FastCharge", COARSE)
    sim, limits = _fresh_simulator(sc, None, "controller")
    durations = env_steps(BUDGET_S, sc.dt_s)
    requests = np.full(len(durations), limits.current_max_a)
    applied: list[float] = []
    own = replay_requests(sim, requests, durations, dataclasses.replace(limits, v_max_v=4.1), applied_a=applied)
    assert own["max_voltage_v"] <= 4.1 + 1e-3 and len(applied) == len(durations)
    assert max(applied) <= limits.current_max_a + 1e-9 and applied[-1] < 0.5 * limits.current_max_a  # the CV taper
    result = optimal_charge("FastCharge", BUDGET_S, overrides=COARSE, controls="requests", initial_guess_a=requests,
                            guess_limits={"v_max_v": 4.1}, max_wall_time_s=1.0)  # fmt: skip
    assert result.guess_replay["entropy_j_per_k"] == pytest.approx(own["entropy_j_per_k"], rel=1e-9)
    assert result.replay["max_voltage_v"] <= limits.v_max_v + 1e-3  # the bound keeps the scenario's own limit


def test_controls_are_checked() -> None:
    with pytest.raises(ConfigError, match="controls must be one of"):
        optimal_charge("FastCharge", BUDGET_S, overrides=COARSE, controls="voltages")
    with pytest.raises(ConfigError, match="one request per env step"):
        optimal_charge("FastCharge", BUDGET_S, overrides=COARSE, controls="requests", initial_guess_a=np.ones(3))
