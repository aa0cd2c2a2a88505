"""Scenario files: every shipped one loads and validates; bad input is rejected with the field named; registration."""

from __future__ import annotations

import dataclasses
import re

import gymnasium
import pytest

import eomctl
from eomctl.charging.registry import register_scenarios
from eomctl.charging.scenarios import Scenario, load_scenario, scenario_from_dict
from eomctl.core.errors import ConfigError
from eomctl.core.resources import data_folders, scenario_paths

REQUIRED = ("FastCharge", "ColdCharge", "Deadline", "AgedCell", "LFPFastCharge", "ColdFastCharge")


def test_required_scenarios_ship() -> None:
    assert set(REQUIRED) <= set(scenario_paths())
    assert data_folders("envs", "scenarios_data")[0].name == "envs"


@pytest.mark.parametrize("name", REQUIRED)
def test_scenario_loads_validates_and_is_commented(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.name == name
    assert scenario.description
    assert scenario_paths()[name].read_text().startswith("#"), "each scenario file opens with a comment on what and why"
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.dt_s = 1.0  # type: ignore[misc]


def test_fast_charge_matches_the_issue() -> None:
    sc = load_scenario("FastCharge")
    assert (sc.cell, sc.simulator.model, sc.simulator.thermal, sc.simulator.degradation) == (
        "LGM50",
        "SPMe",
        "lumped",
        True,
    )
    assert (sc.initial_soc, sc.target_soc, sc.dt_s, sc.c_rate_max, sc.ambient_c) == (
        (0.1, 0.1),
        0.8,
        30.0,
        3.0,
        (25.0, 25.0),
    )
    assert not sc.randomised


def test_randomised_scenarios() -> None:
    cold, deadline, aged = (load_scenario(n) for n in ("ColdCharge", "Deadline", "AgedCell"))
    assert cold.ambient_c == (0.0, 10.0) and cold.randomised
    assert deadline.deadline_s is not None and deadline.deadline_s[0] < deadline.deadline_s[1]
    assert aged.aging and aged.randomised
    assert load_scenario("LFPFastCharge").cell == "A123-LFP"


def test_cold_fast_charge_is_what_a_charger_can_run() -> None:
    """The headline scenario: BMS observation only, the charger's limits enforced, the anode potential not guarded
    (plating is costed through the reward), ambient, start SOC, cooling and aging drawn per episode."""
    sc = load_scenario("ColdFastCharge")
    assert sc.observation == "bms" and sc.limits.anode_min_v is None and sc.limits.t_max_k is not None
    assert sc.ambient_c == (-10.0, 10.0) and sc.initial_soc[0] < sc.initial_soc[1]
    assert sc.aging and sc.spread and sc.reward.degradation > 0


def test_randomised_parameters_become_inputs() -> None:
    sc = load_scenario("AgedCell")
    extra = sc.simulator_config().extra_inputs
    assert {a.parameter for a in sc.aging} == set(extra)


def test_load_by_path_and_by_id() -> None:
    path = scenario_paths()["Deadline"]
    assert load_scenario(path) == load_scenario("eomctl/Deadline-v0") == load_scenario("Deadline")


def test_fixed_value_and_range_forms() -> None:
    sc = scenario_from_dict("X", {"initial_soc": 0.2, "ambient_c": [0, 5], "deadline_s": 1800})
    assert (sc.initial_soc, sc.ambient_c, sc.deadline_s) == ((0.2, 0.2), (0.0, 5.0), (1800.0, 1800.0))


BAD_INPUTS = [
    ({"colour": "red"}, "colour"),
    ({"limits": {"v_maximum": 4.1}}, "limits"),
    ({"reward": {"speed": 1.0}}, "reward"),
    ({"simulator": {"solver": "x"}}, "simulator"),
    ({"randomisation": {"noise": {}}}, "randomisation"),
    ({"limits": {"v_max_v": 4.5}}, "limits.v_max_v"),
    ({"limits": {"v_max_v": 2.0}}, "limits.v_max_v"),
    ({"target_soc": 0.1}, "target_soc"),
    ({"initial_soc": [0.05, 0.9]}, "target_soc"),
    ({"initial_soc": [0.3, 0.2]}, "initial_soc"),
    ({"dt_s": -30}, "dt_s"),
    ({"dt_s": "fast"}, "dt_s"),
    ({"c_rate_max": 0}, "c_rate_max"),
    ({"time_limit_s": 600}, "time_limit_s"),
    ({"deadline_s": [1800, 99999]}, "deadline_s"),
    ({"deadline_s": [100, 1800]}, "deadline_s"),
    ({"ambient_c": 80}, "ambient_c"),
    ({"limits": {"t_max_k": 290.0}}, "limits.t_max_k"),
    ({"limits": {"anode_min_v": 1.0}}, "limits.anode_min_v"),
    ({"limit_mode": "ignore"}, "limit_mode"),
    ({"observation": "camera"}, "observation"),
    ({"reward": {"entropy": -1.0}}, "reward.entropy"),
    ({"reward": {"lli_scale_pct": 0.0}}, "reward.lli_scale_pct"),
    ({"simulator": {"model": "P4D"}}, "simulator"),
    ({"cell": "NoSuchCell"}, "cell"),
    ({"randomisation": {"spread": {"Not a parameter [m]": 0.1}}}, "randomisation"),
    ({"randomisation": {"spread": {"Negative electrode thickness [m]": 0.02}}}, "randomisation"),
    ({"randomisation": {"spread": {"Negative electrode active material volume fraction": 0.9}}}, "randomisation"),
    ({"randomisation": {"aging": {"Contact resistance [Ohm]": {"factor": [1, 2]}}}}, "randomisation"),
    ({"randomisation": {"aging": {"Contact resistance [Ohm]": [0, 0.01]}}}, "randomisation"),
]


@pytest.mark.parametrize(("overrides", "field"), BAD_INPUTS, ids=[f for _, f in BAD_INPUTS])
def test_bad_scenario_input_names_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(field)):
        load_scenario("FastCharge", overrides)


def test_unknown_scenario_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="FastCharge"):
        load_scenario("SlowCharge")


def test_validate_is_callable_on_a_hand_built_scenario() -> None:
    with pytest.raises(ConfigError, match="dt_s"):
        Scenario(name="bad", dt_s=0.0).validate()
    Scenario(name="ok").validate()


def test_register_scenarios_is_idempotent_and_make_works() -> None:
    first = register_scenarios()
    assert register_scenarios() == first
    assert {f"eomctl/{n}-v0" for n in REQUIRED} <= set(first)
    spec = gymnasium.spec("eomctl/FastCharge-v0")
    assert spec.entry_point == "eomctl.charging.env:ChargingEnv" and spec.kwargs == {"scenario": "FastCharge"}
    assert spec.max_episode_steps is None  # the env truncates itself at its time limit


def test_gymnasium_make_after_import() -> None:
    assert eomctl.__name__ == "eomctl"
    if "eomctl/FastCharge-v0" not in gymnasium.registry:  # until eomctl/__init__.py calls it
        register_scenarios()
    env = gymnasium.make("eomctl/FastCharge-v0", overrides={"simulator": {"compile": False, "degradation": False}})
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    env.close()
