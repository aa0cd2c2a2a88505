"""ChargingEnv on real PyBaMM models: API checkers, determinism, limits, entropy bookkeeping, failure, vectorisation.

Envs are built once per module with ``compile=False`` (a build is ~1-3 s; JIT compilation would add ~15 s each).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

from eomctl.charging.env import ChargingEnv
from eomctl.charging.scenarios import KELVIN_OFFSET
from eomctl.core.constants import SECONDS_PER_HOUR
from eomctl.core.errors import ActionError

SCENARIOS = ("FastCharge", "ColdCharge", "Deadline", "AgedCell", "LFPFastCharge")
FAST = {"simulator": {"compile": False}}
NO_DEADLINE = {"simulator": {"compile": False}, "deadline_s": None}
LIGHT = {"simulator": {"compile": False, "degradation": False}}  # no SEI/plating: the cheapest FastCharge variant


@pytest.fixture(scope="module")
def make_env() -> Iterator[Callable[..., ChargingEnv]]:
    """Build each (scenario, overrides) combination once per module."""
    cache: dict[str, ChargingEnv] = {}

    def make(name: str, overrides: dict[str, Any] | None = None, render_mode: str | None = None) -> ChargingEnv:
        key = f"{name}|{overrides}|{render_mode}"
        if key not in cache:
            cache[key] = ChargingEnv(name, render_mode=render_mode, overrides=overrides or FAST)
        return cache[key]

    yield make
    for env in cache.values():
        env.close()


def run(env: ChargingEnv, actions: list[float], seed: int, options: dict[str, Any] | None = None) -> list[Any]:
    """Reset and step through ``actions`` (stopping at episode end); return every (obs, reward, flags, info)."""
    obs, info = env.reset(seed=seed, options=options)
    trace: list[Any] = [(obs, info)]
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(np.array([a], dtype=np.float32))
        trace.append((obs, reward, terminated, truncated, info))
        if terminated or truncated:
            break
    return trace


@pytest.mark.parametrize("name", SCENARIOS)
def test_gymnasium_and_sb3_checkers_pass_without_warnings(make_env: Callable[..., ChargingEnv], name: str) -> None:
    env = make_env(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Rendering is checked below with an env built for it (an env from gymnasium.make has a spec, and then the
        # checker builds one more env per render mode: ~3 extra builds per scenario).
        gym_check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env, warn=True)


def test_render_rgb_array(make_env: Callable[..., ChargingEnv]) -> None:
    env = make_env("FastCharge", LIGHT, render_mode="rgb_array")
    run(env, [0.0, 1.0], seed=0)
    image = env.render()
    assert image is not None and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
    assert image.std() > 0  # something was drawn


@pytest.mark.parametrize("name", SCENARIOS)
def test_same_seed_same_trajectory(make_env: Callable[..., ChargingEnv], name: str) -> None:
    env = make_env(name)
    actions = [0.3, -0.2, 1.0]
    first, second = run(env, actions, seed=7), run(env, actions, seed=7)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:] == b[1:]
    if env.scenario.randomised:
        other_obs, other_info = env.reset(seed=8)
        assert not np.array_equal(other_obs, first[0][0]) or other_info["inputs"] != first[0][1]["inputs"]


@pytest.mark.parametrize("name", SCENARIOS)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(st.floats(-1.0, 1.0, width=32), min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_random_actions_keep_enforced_limits(
    make_env: Callable[..., ChargingEnv], name: str, actions: list[float], seed: int
) -> None:
    env = make_env(name, NO_DEADLINE)
    limits = env.scenario.limits
    for entry in run(env, actions, seed=seed)[1:]:
        obs, _, _, _, info = entry
        assert np.all(np.isfinite(obs)) and env.observation_space.contains(obs)
        assert not info["solver_failure"]
        assert info["voltage_v"] <= env.v_max_v + 1e-3
        assert limits.anode_min_v is None or info["anode_potential_v"] >= limits.anode_min_v - 1e-3
        assert limits.t_max_k is None or info["temperature_k"] <= limits.t_max_k + 0.05
        assert info["violation_count"] == 0
        assert np.isclose(sum(info["reward_terms"].values()), entry[1])


def test_entropy_bookkeeping_and_energy_balance(make_env: Callable[..., ChargingEnv]) -> None:
    """Sum of per-step entropy equals the simulator's integral; E_in = DeltaG + int T dSigma (docs/physics.md §3).

    int T dSigma is rebuilt from the infos with the step-mean temperature (trapezoid over step ends), so the check
    ties the env's per-step numbers together independently of the simulator's own T-weighted quadrature.
    """
    env = make_env("FastCharge", LIGHT)
    trace = run(env, [0.2] * 12, seed=0)
    infos = [trace[0][1]] + [e[4] for e in trace[1:]]
    steps = infos[1:]
    total = sum(i["entropy_step_j_per_k"] for i in steps)
    np.testing.assert_allclose(total, env.sim.last.totals["entropy_j_per_k"], rtol=1e-10)
    np.testing.assert_allclose(total, steps[-1]["entropy_j_per_k"], rtol=1e-10)
    energy_in = sum(i["energy_in_j"] for i in steps)
    free_energy = sum(i["free_energy_j"] for i in steps)
    t_d_sigma = sum(
        0.5 * (prev["temperature_k"] + cur["temperature_k"]) * cur["entropy_step_j_per_k"]
        for prev, cur in zip(infos, steps, strict=False)
    )
    np.testing.assert_allclose(energy_in, free_energy + t_d_sigma, rtol=5e-3)
    assert all(i["entropy_step_j_per_k"] > 0 for i in steps)  # second law while charging


def test_lambda_tilde_is_about_one_during_constant_current(make_env: Callable[..., ChargingEnv]) -> None:
    env = make_env("FastCharge", LIGHT)
    trace = run(env, [-0.5] * 6, seed=0)  # 0.75C: far from every limit
    assert trace[0][1]["lambda_tilde"] == 0.0
    lam = [e[4]["lambda_tilde"] for e in trace[1:]]
    assert lam[0] == pytest.approx(1.0)  # one step: rate over its own mean
    assert all(0.5 < v < 1.5 for v in lam)


def test_success_terminates_with_bonus(make_env: Callable[..., ChargingEnv]) -> None:
    env = make_env("FastCharge", LIGHT)
    trace = run(env, [1.0], seed=0, options={"initial_soc": 0.795})
    _, _, terminated, truncated, info = trace[-1]
    assert terminated and not truncated and info["success"]
    assert info["reward_terms"]["completion"] == env.scenario.reward.completion


def test_time_limit_truncates(make_env: Callable[..., ChargingEnv]) -> None:
    env = make_env("FastCharge", {**LIGHT, "initial_soc": 0.75, "time_limit_s": 90})
    trace = run(env, [-1.0] * 5, seed=0)  # resting never reaches the target
    assert len(trace) == 4
    assert [e[3] for e in trace[1:]] == [False, False, True] and not trace[-1][2]
    # The undelivered part of the charge is penalised once, at truncation, in proportion to what is missing.
    incomplete = [e[4]["reward_terms"]["incomplete"] for e in trace[1:]]
    shortfall = (env.scenario.target_soc - trace[-1][4]["soc"]) / (env.scenario.target_soc - 0.75)
    assert incomplete[:2] == [0.0, 0.0]
    assert incomplete[-1] == pytest.approx(-env.scenario.reward.incomplete * shortfall) and shortfall > 0.9


def test_deadline_miss_is_penalised_once_then_lateness(make_env: Callable[..., ChargingEnv]) -> None:
    env = make_env("Deadline", {**LIGHT, "initial_soc": [0.1, 0.3]})
    w = env.scenario.reward
    trace = run(env, [-1.0] * 3, seed=0, options={"deadline_s": 30.0})
    deadline_terms = [e[4]["reward_terms"]["deadline"] for e in trace[1:]]
    assert deadline_terms == pytest.approx([0.0, -(w.deadline_miss + w.late), -w.late])
    assert trace[1][0][5] == pytest.approx(0.0) and trace[2][0][5] < 0  # time left before the deadline


def test_penalise_mode_counts_and_penalises_violations(make_env: Callable[..., ChargingEnv]) -> None:
    env = make_env("FastCharge", {**LIGHT, "limit_mode": "penalise", "limits": {"anode_min_v": 0.2}})
    trace = run(env, [0.0] * 3, seed=0)  # 1.5C: the anode potential falls below the (strict) 0.2 V margin
    infos = [e[4] for e in trace[1:]]
    assert [i["violation_count"] for i in infos] == [1, 2, 3]
    for info in infos:
        assert info["violations"]["anode_min"] == 1 and info["anode_potential_v"] < 0.2
        assert info["reward_terms"]["violation"] == -env.scenario.reward.violation
        assert info["current_a"] == pytest.approx(0.5 * env.current_max_a)  # applied as asked, not lowered


def test_solver_failure_ends_the_episode(make_env: Callable[..., ChargingEnv], monkeypatch: pytest.MonkeyPatch) -> None:
    """Provoked by making the simulator's integrator calls raise RuntimeError, which is how CasADi reports a CVODES or
    IDAS failure (``CellSimulator._integrate`` / ``_integrate_controlled`` document that contract); the env must not
    raise."""
    env = make_env("FastCharge", LIGHT)
    obs0, _ = env.reset(seed=0)

    def failing_integration(*_: Any, **__: Any) -> None:
        raise RuntimeError("CVODES: the corrector convergence test failed repeatedly")

    monkeypatch.setattr(env.sim, "_integrate", failing_integration)
    monkeypatch.setattr(env.sim, "_integrate_controlled", failing_integration)
    obs, reward, terminated, truncated, info = env.step(np.array([1.0], dtype=np.float32))
    assert terminated and not truncated and info["solver_failure"]
    assert reward == pytest.approx(-env.scenario.reward.failure)
    np.testing.assert_array_equal(obs, obs0)  # the last good state


def test_bms_observation_set(make_env: Callable[..., ChargingEnv]) -> None:
    env = make_env("Deadline", {**LIGHT, "observation": "bms"})
    obs, info = env.reset(seed=0)
    assert env.features == ("voltage_v", "c_rate", "temperature_k", "soc_estimate", "time_left_frac", "required_c_rate")
    assert obs.shape == (6,) and obs[3] == pytest.approx(info["soc"], abs=1e-6)
    obs, _, _, _, info = env.step(np.array([0.0], dtype=np.float32))
    assert obs[3] == pytest.approx(env.sim.last.soc, abs=0.02)  # coulomb counting tracks the model SOC
    # the mean current that delivers the rest by the deadline, from the BMS's own SOC and the time left
    left_h = (info["deadline_s"] - env.scenario.dt_s) / SECONDS_PER_HOUR
    assert obs[5] == pytest.approx((env.scenario.target_soc - obs[3]) / left_h, rel=1e-5)


def test_required_rate_past_the_deadline_is_held_at_its_bound(make_env: Callable[..., ChargingEnv]) -> None:
    """Past the deadline with charge still to deliver the required rate is infinite; the observation holds it at twice
    the charger's maximum, and a scenario without a deadline does not observe it."""
    env = make_env("Deadline", LIGHT)
    env.reset(seed=0, options={"deadline_s": 30.0, "initial_soc": 0.2})
    obs, _, _, _, info = env.step(np.array([-1.0], dtype=np.float32))  # no current: the deadline passes unmet
    assert info["required_c_rate"] == math.inf
    assert obs[env.features.index("required_c_rate")] == pytest.approx(2.0 * env.scenario.c_rate_max)
    assert "required_c_rate" not in make_env("FastCharge", LIGHT).features


def test_aging_lowers_soh_and_reset_options(make_env: Callable[..., ChargingEnv]) -> None:
    env = make_env("AgedCell")
    sohs = [env.reset(seed=s)[1]["soh"] for s in range(3)]
    assert all(0.7 < v < 1.0 for v in sohs) and len(set(sohs)) == 3
    _, info = env.reset(seed=0, options={"ambient_c": 5.0, "initial_soc": 0.3})
    assert info["temperature_k"] == pytest.approx(5.0 + KELVIN_OFFSET) and info["soc"] == pytest.approx(0.3, abs=1e-6)


def test_action_is_clipped(make_env: Callable[..., ChargingEnv]) -> None:
    env = make_env("FastCharge", LIGHT)
    over = run(env, [5.0], seed=0)[-1][4]
    full = run(env, [1.0], seed=0)[-1][4]
    assert over["current_a"] == full["current_a"]


@pytest.mark.parametrize("vec_cls", [DummyVecEnv, SubprocVecEnv])
def test_vectorised(vec_cls: type) -> None:
    fns = [lambda: ChargingEnv("ColdCharge", overrides=LIGHT) for _ in range(2)]
    vec = vec_cls(fns, start_method="fork") if vec_cls is SubprocVecEnv else vec_cls(fns)
    try:
        vec.seed(3)
        obs = vec.reset()
        assert obs.shape == (2, 10) and not np.array_equal(obs[0], obs[1])  # two seeds, two ambient temperatures
        for _ in range(2):
            obs, rewards, _, infos = vec.step(np.zeros((2, 1), dtype=np.float32))
            assert np.all(np.isfinite(obs)) and np.all(np.isfinite(rewards)) and len(infos) == 2
    finally:
        vec.close()


def test_gymnasium_make_builds_the_env() -> None:
    from eomctl.charging.registry import register_scenarios

    register_scenarios()
    env = gymnasium.make("eomctl/LFPFastCharge-v0", overrides=LIGHT)
    assert isinstance(env.unwrapped, ChargingEnv)
    obs, _ = env.reset(seed=0)
    obs, reward, *_ = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs) and np.isfinite(reward)
    env.close()


@pytest.mark.parametrize("action", [np.array([np.nan]), None, "abc", np.array([0.1, 0.2]), np.array([np.inf])])
def test_an_action_that_is_not_one_finite_number_is_refused(make_env: Callable[..., ChargingEnv], action: Any) -> None:
    """NaN, None, a string or the wrong shape is a clear error before the step, not a "solver failure"."""
    env = make_env("FastCharge")
    env.reset(seed=0)
    before = env.sim.last
    with pytest.raises(ActionError, match="the action must be one"):
        env.step(action)
    assert env.sim.last is before  # nothing was integrated
    _, _, terminated, _, info = env.step(np.array([0.0], dtype=np.float32))  # the episode goes on
    assert not info["solver_failure"] and not terminated
