"""Tests of the optimal-control entropy bound on the real PyBaMM model (FastCharge, SPMe lumped)."""

from __future__ import annotations

import argparse
import time

import numpy as np
import pytest

from eomctl.cli import bound as bound_cli
from eomctl.core.errors import ConfigError
from eomctl.evaluation.optimal import OptimalResult, cccv_at_budget, optimal_charge

# Degradation off and no JIT keep the default suite fast; the slow tests use the scenario's full model.
FAST = {"simulator": {"compile": False, "degradation": False}}
V_MAX_V, T_MAX_K, TARGET_SOC = 4.2, 318.15, 0.8


@pytest.fixture(scope="module")
def bound_2400() -> OptimalResult:
    """FastCharge 10 -> 80 % in 2400 s with 8 intervals: the voltage limit binds at the end of CC-CV."""
    return optimal_charge("FastCharge", 2400.0, n_intervals=8, overrides=FAST)


def _check_limits(result: OptimalResult) -> None:
    replay = result.replay
    assert replay["max_voltage_v"] <= V_MAX_V + 1e-3
    assert replay["peak_temperature_k"] <= T_MAX_K + 0.05
    assert replay["min_anode_potential_v"] >= -1e-3
    assert replay["final_soc"] >= TARGET_SOC - 1e-3
    np.testing.assert_allclose(replay["charge_time_s"], result.time_budget_s, rtol=1e-9)


def test_solves_and_replays_its_prediction(bound_2400: OptimalResult) -> None:
    assert bound_2400.status == "optimal"
    assert bound_2400.currents_a.shape == (8,)
    np.testing.assert_allclose(bound_2400.replay["entropy_j_per_k"], bound_2400.predicted_entropy_j_per_k, rtol=0.01)


def test_replay_meets_limits_and_target(bound_2400: OptimalResult) -> None:
    _check_limits(bound_2400)
    assert np.all(bound_2400.currents_a >= 0) and np.all(bound_2400.currents_a <= 15.0 + 1e-9)


def test_no_worse_than_matched_cccv_at_same_resolution(bound_2400: OptimalResult) -> None:
    # The CC-CV profile is the start point and feasible, so the optimum must not be worse (docs/physics.md §5: small
    # gain).
    assert bound_2400.replay["entropy_j_per_k"] <= bound_2400.cccv_entropy_j_per_k * (1 + 1e-6)
    assert bound_2400.replay["entropy_j_per_k"] >= 0.9 * bound_2400.cccv_entropy_j_per_k


def test_infeasible_budget_is_a_config_error_quickly() -> None:
    tic = time.perf_counter()
    with pytest.raises(ConfigError, match="infeasible"):
        optimal_charge("FastCharge", 700.0, n_intervals=10, overrides=FAST)  # 3C takes 840 s for 70 % SOC
    assert time.perf_counter() - tic < 60.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_intervals": 0}, "n_intervals"),
        ({"n_basis": 0}, "n_basis"),
        ({"time_budget_s": -1.0}, "time_budget_s"),
        ({"degradation_weight": 1.0}, "degradation"),
    ],
)
def test_bad_arguments(kwargs: dict[str, float], message: str) -> None:
    args = {"time_budget_s": 2400.0, **kwargs}
    with pytest.raises(ConfigError, match=message):
        optimal_charge("FastCharge", overrides=FAST, **args)  # type: ignore[arg-type]


def test_bound_parser_registers_command() -> None:
    parser = argparse.ArgumentParser()
    bound_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bound", "--env", "eomctl/FastCharge-v0", "--budget-s", "2400", "--intervals", "12"])
    assert (args.env, args.budget_s, args.intervals, args.out) == ("eomctl/FastCharge-v0", 2400.0, 12, "bound.json")
    assert callable(args.func)


def test_wall_time_cap_returns_the_start_point() -> None:
    result = optimal_charge("FastCharge", 2400.0, n_intervals=4, overrides=FAST, max_wall_time_s=0.0)
    assert result.status == "time_limit"
    np.testing.assert_allclose(result.currents_a, result.cccv_currents_a)


@pytest.mark.slow
@pytest.mark.parametrize("budget_s", [2400.0, 3000.0])
def test_beats_fine_cccv_at_matched_time(budget_s: float) -> None:
    """Against CC-CV stepped at the scenario's 30 s control step, on the scenario's full model (with degradation).

    Measured (the env's 30 s steps, 20 directions): 2400 s 8.2795 vs 8.3184 J/K (-0.47 %).
    """
    overrides = {"simulator": {"compile": False}}
    result = optimal_charge("FastCharge", budget_s, overrides=overrides, max_wall_time_s=600.0)
    assert result.status in ("optimal", "iteration_limit", "time_limit")  # all three return a feasible point
    _check_limits(result)
    np.testing.assert_allclose(result.replay["entropy_j_per_k"], result.predicted_entropy_j_per_k, rtol=0.01)
    cccv = cccv_at_budget("FastCharge", budget_s, overrides=overrides)
    assert result.replay["entropy_j_per_k"] <= cccv["entropy_j_per_k"]


def test_weighted_objective_is_the_irreversible_loss_the_replay_reports() -> None:
    """The bound's degradation term (LLI after the rest that follows the charge, built into the NLP) equals the
    irreversible loss the simulator reports for the same profile: a cold charge without the anode limit, where
    plated lithium that strips back in the rest makes end-of-charge LLI and the irreversible loss differ."""
    from eomctl.cell.optimal_control import ChargeOptimizer
    from eomctl.evaluation import optimal as optimal_module

    overrides = {"simulator": {"compile": False}, "ambient_c": 0.0, "limits": {"anode_min_v": None}}
    sc = optimal_module.load_scenario("FastCharge", overrides)
    sim, limits = optimal_module._fresh_simulator(sc)
    c_rate = np.array([2.0, 1.0, 0.5, 0.3])  # plates early; 10 -> 73 % SOC: no limit cuts the replay short
    currents_a = c_rate * sim.cell.capacity_ah
    objectives = []
    for weight in (0.0, 1.0):
        optimizer = ChargeOptimizer(sim, limits, 4, 600.0, n_basis=4, irreversible_weight=weight)
        params = optimizer._params(sim.state, sim.negative_window, 0.0, currents_a / limits.current_max_a)
        objectives.append(optimizer.values(np.zeros(4), params)[0])
    replay = optimal_module.replay(sim, currents_a, 600.0, limits)
    assert replay["charge_time_s"] == pytest.approx(2400.0)
    assert replay["lli_pct"] > 1.5 * replay["irreversible_lli_pct"] > 0  # a real difference to get right
    # 1e-4: the NLP's CVODES call also stops at the check points inside each step, the simulator's does not; the two
    # agree to the integrator tolerance (measured 6.9e-5 relative; 1e-6 without check points).
    np.testing.assert_allclose(objectives[1] - objectives[0], replay["irreversible_lli_pct"], rtol=1e-4)


def test_fine_replay_keeps_the_limits_between_check_points(bound_2400: OptimalResult) -> None:
    """Replayed at a tenth of a step, no limit is passed by more than 1 mV / 0.05 K (the limits are imposed at three
    check points inside each step, not only at step ends)."""
    fine = bound_2400.fine_replay
    assert fine["voltage_excess_mv"] <= 1.0 and fine["anode_excess_mv"] <= 1.0
    assert fine["temperature_excess_k"] <= 0.05
    assert fine["charge_time_s"] == pytest.approx(2400.0)
    assert bound_2400.converged and bound_2400.iterations > 0


def test_a_given_start_is_never_beaten_by_the_result() -> None:
    """The solve starts from the best feasible start it is given and keeps only improvements: with the optimum
    itself as the start, the result is no worse."""
    first = optimal_charge("FastCharge", 2400.0, n_intervals=8, overrides=FAST, max_wall_time_s=0.0)
    again = optimal_charge("FastCharge", 2400.0, n_intervals=8, overrides=FAST, initial_guess_a=first.currents_a)
    assert again.replay["entropy_j_per_k"] <= first.replay["entropy_j_per_k"] * (1 + 1e-9)


def test_resampled_profile_keeps_the_charge() -> None:
    from eomctl.evaluation.optimal import resample_profile

    profile = np.array([15.0, 10.0, 5.0])
    resampled = resample_profile(profile, 7)
    assert resampled.shape == (7,)
    assert resampled.sum() / 7 == pytest.approx(profile.sum() / 3)
    np.testing.assert_array_equal(resample_profile(profile, 3), profile)


def test_objectives_need_a_degradation_model() -> None:
    with pytest.raises(ConfigError, match="irreversible"):
        optimal_charge("FastCharge", 2400.0, overrides=FAST, objective="irreversible")
    with pytest.raises(ConfigError, match="objective"):
        optimal_charge("FastCharge", 2400.0, overrides=FAST, objective="speed")


def test_the_bound_starts_from_the_episodes_own_cell() -> None:
    """An aged episode's bound solves that episode's cell: its aging inputs, SOC and temperatures, and the SOC window
    of the aged electrode (the bound had solved the fresh cell at the scenario's mean start)."""
    from eomctl.charging.env import ChargingEnv
    from eomctl.evaluation import optimal as optimal_module

    env = ChargingEnv("AgedCell", overrides={"simulator": {"compile": False, "degradation": False}})
    try:
        env.reset(seed=3)
        episode = env.sim.state
        episode_soc = env.sim.last.soc
        sim, _ = optimal_module._fresh_simulator(env.scenario, episode)
        np.testing.assert_array_equal(np.asarray(sim.state.inputs), np.asarray(episode.inputs))
        assert sim.last.soc == pytest.approx(episode_soc, abs=1e-9)
        fresh, _ = optimal_module._fresh_simulator(env.scenario)
        assert not np.array_equal(np.asarray(fresh.state.inputs), np.asarray(episode.inputs))  # a real difference
    finally:
        env.close()


class _FailsBeyond:
    """A stand-in NLP for solve_slsqp (no simulation): minimise (x - 2)^2 subject to x >= 0, where evaluating past
    x = 1.5 raises RuntimeError as an integrator failing at a trial point does."""

    n_variables = 1
    lbg, ubg = np.array([0.0]), np.array([np.inf])

    def values(self, x: np.ndarray, params: object) -> np.ndarray:
        if x[0] > 1.5:
            raise RuntimeError("integrator failed")
        return np.array([(x[0] - 2.0) ** 2, 0.0, x[0]])

    def jacobian(self, x: np.ndarray, params: object, fg: np.ndarray) -> np.ndarray:
        return np.array([[2.0 * (x[0] - 2.0)], [0.0], [1.0]])

    def violation(self, fg: np.ndarray) -> float:
        from eomctl.cell.optimal_control import constraint_violation

        return constraint_violation(fg, self.lbg, self.ubg)


def test_a_failed_trial_point_makes_the_line_search_step_back() -> None:
    """SLSQP's first step (to x = 2) fails to integrate; the solve steps back instead of ending, and returns a point
    that integrated and improved on the start (here the optimum lies where nothing integrates, so the failures repeat
    and the status says so)."""
    from eomctl.cell.optimal_control import solve_slsqp

    problem = _FailsBeyond()
    fg0 = problem.values(np.zeros(1), None)
    z, status, _, fg = solve_slsqp(problem, [], fg0, max_wall_time_s=10.0)
    assert 0.0 < z[0] <= 1.5 and fg[0] < fg0[0]
    assert status == "solver_failure"
