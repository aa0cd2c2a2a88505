"""Baseline chargers on real PyBaMM trajectories, spec parsing, and the env's per-episode ``limits`` reset option.

One light env per module (SPMe without degradation, no JIT, temperature and plating limits off so that only the limit
a baseline asks for binds), starting at 50 % SOC so that CV and cut-off phases come within minutes of simulated time.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eomctl.charging.env import ChargingEnv
from eomctl.core.errors import ConfigError, EomctlWarning
from eomctl.evaluation.evaluate import measure_episode
from eomctl.policies.baselines import CCCV, Rate
from eomctl.policies.derating import DeratingTable, derating_table
from eomctl.policies.protocol import EnvContext, Policy
from eomctl.policies.specs import parse_policy, parse_rate, policy_spec
from eomctl.policies.trained import TrainedPolicy

QUICK = {
    "simulator": {"compile": False, "degradation": False},
    "initial_soc": 0.5,
    "target_soc": 0.97,
    "limits": {"t_max_k": None, "anode_min_v": None},
}
SPECS = (
    "cccv:rate=1C,vmax=4.2,cutoff=C/20",
    "multistage:rates=3C/2C/1C,switch_soc=0.3/0.5",
    "multistage:rates=2A/1C,switch_v=4.1,cutoff=C/10",
    "boost:boost=3C,boost_until_soc=0.3,rate=1C,vmax=4.2,cutoff=C/20",
    "pulse:rate=2C,on_s=60,off_s=30",
    "cp:power_w=15,vmax=4.2",
    "ccco:rate=2C,margin=0.01",
    "derated:rates=2C,table=jeita,vmax=4.2,cutoff=C/20",
    "derated:rates=3C/2C/1C,switch_soc=0.3/0.5,table=jeita_soc",
)


@pytest.fixture(scope="module")
def env() -> Iterator[ChargingEnv]:
    built = ChargingEnv("FastCharge", overrides=QUICK)
    yield built
    built.close()


def first_steps(policy: Policy, env: ChargingEnv, steps: int) -> list[dict[str, Any]]:
    """The harness protocol (bind, limits, predict with state) for a few steps; the info of each state."""
    bound = policy.bind(env)  # type: ignore[attr-defined]
    obs, info = env.reset(seed=0, options={"limits": bound.limits})
    infos, state = [info], None
    for i in range(steps):
        action, state = bound.predict(obs, state=state, episode_start=np.array([i == 0]))
        obs, _, terminated, truncated, info = env.step(action)
        infos.append(info)
        if terminated or truncated:
            break
    return infos


# ------------------------------------------------------------------------------------------------ parsing
@pytest.mark.parametrize("spec", SPECS)
def test_specs_parse_and_round_trip(spec: str) -> None:
    policy = parse_policy(spec)
    assert isinstance(policy, Policy)
    assert parse_policy(policy_spec(policy)) == policy


@pytest.mark.parametrize(
    ("text", "rate"), [("1C", Rate(1.0)), ("0.5C", Rate(0.5)), ("C/20", Rate(0.05)), ("2A", Rate(2.0, "A"))]
)
def test_parse_rate(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("cccx:rate=1C", "unknown protocol 'cccx'; choose one of"),
        ("cccv:rate=fast", "cccv: 'rate' must be a C-rate like 1C"),
        ("cccv:speed=1C", "cccv: unknown key 'speed'"),
        ("cccv:rate", "cccv: 'rate' needs a value"),
        ("cccv:rate=0C", "must be positive"),
        ("cp:power_w=lots", "cp: 'power_w' must be a number, got 'lots'"),
        ("multistage:rates=2C/1C", "give 1 thresholds in exactly one of switch_soc / switch_v"),
        ("multistage:rates=3C/2C/1C,switch_soc=0.5/0.3", "must increase"),
        ("no_such_model.zip", "not found"),
    ],
)
def test_bad_specs_name_the_problem(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_policy(spec)


def test_unbound_baseline_asks_for_bind() -> None:
    with pytest.raises(ConfigError, match="bind"):
        CCCV().predict(np.zeros(10, dtype=np.float32))


def test_action_maps_current_to_the_env_scale(env: ChargingEnv) -> None:
    ctx = EnvContext.of(env)
    assert ctx.action(env.current_max_a / 3).dtype == np.float32
    np.testing.assert_allclose(ctx.action(env.current_max_a / 3), [-1.0 / 3.0], rtol=1e-6)
    np.testing.assert_allclose(ctx.action(2 * env.current_max_a), [1.0])


# ------------------------------------------------------------------------------------------------ env limits option
def test_reset_limits_hold_for_one_episode(env: ChargingEnv) -> None:
    infos = first_steps(CCCV(rate=Rate(3.0), vmax=3.9), env, 6)
    assert max(i["voltage_v"] for i in infos) <= 3.9 + 1e-3 and infos[-1]["limited"]
    _, _ = env.reset(seed=0)
    assert env.v_max_v == env.cell.v_max_v and env.limits == env.scenario.limits


@pytest.mark.parametrize(
    ("limits", "message"),
    [({"v_max_v": 4.5}, "outside the cell's window"), ({"i_max_a": 3.0}, r"unknown key\(s\) \['i_max_a'\]")],
)
def test_reset_limits_are_validated(env: ChargingEnv, limits: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        env.reset(seed=0, options={"limits": limits})


# ------------------------------------------------------------------------------------------------ behaviour
def test_cccv_holds_vmax_then_stops_at_the_cutoff(env: ChargingEnv) -> None:
    metrics, rows = measure_episode(parse_policy("cccv:rate=1C,vmax=4.1,cutoff=C/5"), env, seed=0, record=True)
    assert rows is not None and metrics.stopped_by == "policy" and not metrics.reached_target
    first_cv = next(i for i, r in enumerate(rows) if r["limited"])
    np.testing.assert_allclose([r["c_rate"] for r in rows[1:first_cv]], 1.0, rtol=1e-6)
    np.testing.assert_allclose([r["voltage_v"] for r in rows[first_cv:]], 4.1, atol=1e-3)
    assert rows[-1]["c_rate"] <= 0.2 < rows[-2]["c_rate"]  # stopped at the first step below C/5


def test_ccco_holds_the_anode_margin_once_it_binds(env: ChargingEnv) -> None:
    infos = first_steps(parse_policy("ccco:rate=3C,margin=0.05"), env, 12)
    binding = [i for i in infos if i["limited"]]
    assert len(binding) >= 6  # 3C from 50 % SOC meets the margin within a few steps
    np.testing.assert_allclose([i["anode_potential_v"] for i in binding], 0.05, atol=1e-3)
    assert min(i["anode_potential_v"] for i in infos) >= 0.05 - 1e-3
    assert all(i["c_rate"] < 3.0 for i in binding)


def test_multistage_switches_at_its_soc_thresholds(env: ChargingEnv) -> None:
    metrics, rows = measure_episode(
        parse_policy("multistage:rates=1.5C/1.2C/0.8C,switch_soc=0.6/0.7"), env, 0, record=True
    )
    assert rows is not None and metrics.reached_target
    for threshold, before_c, after_c in ((0.6, 1.5, 1.2), (0.7, 1.2, 0.8)):
        past = next(i for i, r in enumerate(rows) if r["soc"] >= threshold)  # the state the switch is decided on
        np.testing.assert_allclose([rows[past]["c_rate"], rows[past + 1]["c_rate"]], [before_c, after_c], rtol=1e-6)
    free = [(a, b) for a, b in itertools.pairwise(rows) if not b["limited"]]
    expected = [1.5 if a["soc"] < 0.6 else 1.2 if a["soc"] < 0.7 else 0.8 for a, _ in free]
    np.testing.assert_allclose([b["c_rate"] for _, b in free], expected, rtol=1e-6)


def test_derating_table_bands() -> None:
    jeita, by_soc = derating_table("jeita"), derating_table("jeita_soc")
    # JEITA's bands: full current from 10 to 45 C, half from 0 to 10 C, none above 45 C; edges belong to the band above.
    assert [jeita.fraction(t, 0.5) for t in (-10.0, -0.01, 0.0, 9.99, 10.0, 44.9, 45.0)] == [
        0.25, 0.25, 0.5, 0.5, 1.0, 1.0, 0.0,
    ]  # fmt: skip
    assert [by_soc.fraction(5.0, soc) for soc in (0.2, 0.49, 0.5, 0.9)] == [0.5, 0.5, 0.25, 0.25]
    assert by_soc.fraction(25.0, 0.9) == 1.0  # SOC derating only in the cold
    assert "JEITA" in jeita.source and "this project's" in jeita.source  # the extension below 0 C is labelled
    with pytest.raises(ConfigError, match="known: \\['jeita', 'jeita_soc'\\]"):
        parse_policy("derated:rates=2C,table=nope")
    with pytest.raises(ConfigError, match="fractions must be 2 x 1"):
        DeratingTable("bad", (0.0,), (), ((1.0,),), "none")


def test_derated_charger_follows_the_measured_temperature() -> None:
    """Each step asks for the table's fraction of the stage's current at the measured temperature and SOC estimate
    (the BMS observation), so the current rises as a cold cell warms itself."""
    env = ChargingEnv("ColdFastCharge", overrides={"simulator": {"compile": False}, "ambient_c": 5.0})
    policy = parse_policy("derated:rates=3C/2C,switch_soc=0.5,table=jeita").bind(env)  # type: ignore[attr-defined]
    table, ctx = derating_table("jeita"), EnvContext.of(env)
    try:
        obs, _ = env.reset(seed=0, options={"limits": policy.limits})
        bands, state, done = set(), None, False
        while not done:
            temperature_c, soc_estimate = ctx.read(obs, "temperature_k") - 273.15, ctx.read(obs, "soc_estimate")
            stage_c = 3.0 if soc_estimate < 0.5 else 2.0
            action, state = policy.predict(obs, state=state)
            np.testing.assert_allclose(
                (action[0] + 1.0) / 2.0 * 3.0, table.fraction(temperature_c, soc_estimate) * stage_c, rtol=1e-5
            )
            bands.add(table.fraction(temperature_c, 0.5))
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
    finally:
        env.close()
    assert info["soc"] >= 0.8
    assert bands == {0.5, 1.0}  # started in the 0-10 C band and warmed past 10 C


def test_multistage_by_voltage_never_switches_back(env: ChargingEnv) -> None:
    infos = first_steps(parse_policy("multistage:rates=3C/0.5C,switch_v=3.95"), env, 12)
    switched = next(i for i, info in enumerate(infos) if info["voltage_v"] >= 3.95)
    assert infos[switched + 1]["voltage_v"] < 3.95  # the voltage falls with the current ...
    np.testing.assert_allclose([i["c_rate"] for i in infos[switched + 1 :]], 0.5, rtol=1e-6)  # ... the stage stays


def test_pulse_alternates_with_its_periods(env: ChargingEnv) -> None:
    infos = first_steps(parse_policy("pulse:rate=1C,on_s=60,off_s=30"), env, 9)
    np.testing.assert_allclose([i["c_rate"] for i in infos[1:]], [1, 1, 0, 1, 1, 0, 1, 1, 0], atol=1e-6)


def test_constant_power_keeps_the_power(env: ChargingEnv) -> None:
    infos = first_steps(parse_policy("cp:power_w=15,vmax=4.2"), env, 8)
    power_w = [i["energy_in_j"] / env.scenario.dt_s for i in infos[1:]]
    np.testing.assert_allclose(power_w[0], 15.0, rtol=0.05)  # sized on the rest voltage: the loaded one is higher
    np.testing.assert_allclose(power_w[1:], 15.0, rtol=0.005)
    assert infos[1]["c_rate"] > infos[-1]["c_rate"]  # the current falls as the voltage rises


@pytest.mark.parametrize("algorithm", ["PPO", "SAC"])
def test_trained_model_zip_goes_through_the_same_path(env: ChargingEnv, tmp_path: Path, algorithm: str) -> None:
    import stable_baselines3

    cls = getattr(stable_baselines3, algorithm)
    kwargs = {"buffer_size": 100} if algorithm == "SAC" else {}
    cls("MlpPolicy", env, seed=0, device="cpu", **kwargs).save(tmp_path / "agent.zip")
    with pytest.warns(EomctlWarning, match="no VecNormalize statistics beside"):  # a bare zip: say so
        policy = parse_policy(str(tmp_path / "agent.zip"))
    assert isinstance(policy, TrainedPolicy) and type(policy.model).__name__ == algorithm
    infos = first_steps(policy, env, 3)
    action, _ = policy.predict(np.zeros(len(env.features), dtype=np.float32))
    assert action.shape == (1,) and action.dtype == np.float32 and -1.0 <= action[0] <= 1.0
    assert len(infos) == 4 and infos[-1]["time_s"] == 3 * env.scenario.dt_s
