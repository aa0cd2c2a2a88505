"""The model-predictive charger and its state estimator on the real PyBaMM model (FastCharge, SPMe lumped).

Degradation off and no JIT keep these in the default suite; the MPC's figures against CC-CV and the bound are
measured by ``benchmarks/bench_mpc.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from eomctl.cell.estimation import ExtendedKalmanFilter
from eomctl.charging.env import ChargingEnv
from eomctl.core.errors import ConfigError
from eomctl.policies.episode import start_episode
from eomctl.policies.mpc import MPC
from eomctl.policies.specs import parse_policy, policy_spec

FAST = {"simulator": {"compile": False, "degradation": False}}


@pytest.fixture(scope="module")
def env() -> ChargingEnv:
    built = ChargingEnv("FastCharge", overrides=FAST)
    yield built
    built.close()


def test_spec_round_trip_and_bad_values() -> None:
    policy = parse_policy("mpc:rate=2C,horizon_s=300,replan_s=60,objective=entropy,state=ekf")
    assert isinstance(policy, MPC) and policy.state == "ekf" and policy.horizon_s == 300.0
    assert parse_policy(policy_spec(policy)) == policy
    for bad, word in [("state=kalman", "state"), ("replan_s=900", "replan_s"), ("objective=fast", "objective"),
                      ("objective=weighted", "weight"), ("horizon_s=-1", "horizon_s")]:  # fmt: skip
        with pytest.raises(ConfigError, match=word):
            parse_policy(f"mpc:{bad}")


def test_degradation_objective_needs_a_degradation_model(env: ChargingEnv) -> None:
    with pytest.raises(ConfigError, match="degradation"):
        parse_policy("mpc:objective=irreversible").bind(env)


def test_oracle_mpc_plans_from_the_simulator_state_and_keeps_the_schedule(env: ChargingEnv) -> None:
    """Six steps of a 2C-matched MPC (90 s horizon, replanned every 60 s): it plans the whole charge first, its
    requests are valid actions, it replans on time, and the SOC it reaches is its schedule's (its end-of-horizon
    condition) to within 0.5 %."""
    policy, observation, _ = start_episode(parse_policy("mpc:rate=2C,horizon_s=90,replan_s=60"), env, 0)
    state = None
    for k in range(6):
        action, state = policy.predict(observation, state, np.array([k == 0]))
        assert action.shape == (1,) and -1.0 <= float(action[0]) <= 1.0
        observation, _, terminated, _, _ = env.step(action)
        assert not terminated
    assert len(state.solve_s) == 4 and state.statuses[0].startswith("whole charge")
    assert all(s in ("optimal", "iteration_limit") for s in state.statuses[1:])
    assert env.sim.last.soc == pytest.approx(state.schedule_soc[5], abs=5e-3)


def test_ekf_recovers_the_soc_from_the_rest_voltage_and_tracks_it(env: ChargingEnv) -> None:
    """A BMS-side estimate: the SOC read from the rested cell's voltage, then five 2C steps of voltage, current and
    temperature measurements keep it within 0.5 % SOC of the truth."""
    env.reset(seed=0)
    truth = env.sim
    ekf = ExtendedKalmanFilter(truth.twin(), 30.0, truth.last.voltage_v, truth.last.temperature_k)
    assert ekf.soc == pytest.approx(truth.last.soc, abs=2e-3)
    for _ in range(5):
        result = truth.step(10.0, 30.0)
        ekf.step(result.charge_in_ah * 3600.0 / result.duration_s, result.voltage_v, result.temperature_k)
    assert ekf.soc == pytest.approx(truth.last.soc, abs=5e-3)
    assert ekf.stats.steps == 5 and ekf.stats.wall_s > 0
