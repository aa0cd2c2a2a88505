"""Paired differences with bootstrap intervals (cheap: synthetic samples, no simulation)."""

from __future__ import annotations

import numpy as np
import pytest

from eomctl.core.errors import ConfigError
from eomctl.evaluation.paired import paired_difference


def test_interval_covers_the_true_mean_and_is_deterministic() -> None:
    rng = np.random.default_rng(1)
    b = rng.normal(10.0, 3.0, 40)  # large spread between episodes ...
    a = b - 0.5 + rng.normal(0.0, 0.1, 40)  # ... small, consistent paired difference
    first, again = paired_difference("x", a, b), paired_difference("x", a, b)
    assert first == again
    assert first.low < -0.5 < first.high and first.high < 0.0 and first.significant
    assert first.high - first.low < 0.2  # the pairing removes the between-episode spread
    np.testing.assert_allclose(first.relative_pct, 100.0 * first.difference / b.mean())


def test_no_difference_is_not_significant() -> None:
    rng = np.random.default_rng(2)
    b = rng.normal(5.0, 1.0, 30)
    result = paired_difference("x", b + rng.normal(0.0, 0.1, 30), b)
    assert result.low < 0.0 < result.high and not result.significant


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [([1.0, 2.0], [1.0], "equal-length"), ([1.0], [1.0], "at least 2"), ([1.0, np.nan], [1.0, 2.0], "non-finite")],
)
def test_bad_samples_are_named(a: list[float], b: list[float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        paired_difference("x", a, b)


def test_tuned_comparison_pairs_held_out_draws() -> None:
    """Plumbing on a cheap stand-in (a 60 -> 80 % charge on ColdFastCharge's draws, no JIT): the baseline is tuned to
    the policy's mean time on the training draws and both run the same held-out draws, whose seeds never overlap."""
    from eomctl.charging.env import ChargingEnv
    from eomctl.evaluation.tuned import HELD_OUT_SEED, METRICS, TRAIN_SEED, tuned_comparison
    from eomctl.policies.baselines import CCCV, Rate

    env = ChargingEnv("ColdFastCharge", overrides={"simulator": {"compile": False}, "initial_soc": [0.6, 0.65]})
    try:
        rows = tuned_comparison(
            "cccv:rate=1.5C,vmax=4.2,cutoff=C/20",
            {"cccv": (lambda x, v: CCCV(rate=Rate(x), vmax=v, cutoff=Rate(0.05)), (0.2, 3.0))},
            env, train_episodes=2, held_out_episodes=3,
        )  # fmt: skip
    finally:
        env.close()
    assert HELD_OUT_SEED - TRAIN_SEED > 1000
    assert [r["metric"] for r in rows] == list(METRICS) and all(r["n"] == 3 for r in rows)
    time_row = rows[0]
    assert "matched to" in time_row["tuning_note"]
    assert time_row["spec"].startswith(f"cccv:rate={time_row['scale']:g}C")
    assert time_row["low"] <= time_row["difference"] <= time_row["high"]


@pytest.mark.parametrize(("deadline_s", "late"), [((600.0, 900.0), 0), ((100.0, 120.0), 2)])
def test_tuned_comparison_counts_late_draws_in_a_deadline_scenario(deadline_s: tuple[float, float], late: int) -> None:
    """Plumbing on a cheap stand-in (Deadline's draws, a 60 -> 70 % charge, no JIT): equal mean time says nothing of
    each draw's deadline, so the note counts the held-out draws each side finished late (at 2C the charge takes about
    3 min: on time for deadlines of 10-15 min, late for 100-120 s)."""
    from eomctl.charging.env import ChargingEnv
    from eomctl.evaluation.tuned import FAMILIES, tuned_comparison

    overrides = {"simulator": {"compile": False}, "initial_soc": [0.6, 0.62], "target_soc": 0.7,
                 "deadline_s": list(deadline_s)}  # fmt: skip
    env = ChargingEnv("Deadline", overrides=overrides)
    try:
        rows = tuned_comparison("cccv:rate=2C,vmax=4.2,cutoff=C/20", {"cccv": FAMILIES["cccv"]}, env,
                                train_episodes=2, held_out_episodes=2)  # fmt: skip
    finally:
        env.close()
    assert rows[0]["tuning_note"].endswith(f"late on the held-out draws: policy {late}, baseline {late} of 2")


def test_room_to_bound_is_measured_on_the_same_draw() -> None:
    """Plumbing on a cheap stand-in (a 60 -> 70 % charge at 10 C, no JIT): on the draw, the baseline family is tuned
    to the policy's own charge time, the bound is solved from the draw's start at that time and is no higher than
    either charger, and the share captured follows from the means."""
    from eomctl.charging.env import ChargingEnv
    from eomctl.evaluation.tuned import FAMILIES, TUNING_RTOL, room_to_bound

    overrides = {"simulator": {"compile": False}, "initial_soc": [0.6, 0.62], "target_soc": 0.7, "ambient_c": 10.0}
    env = ChargingEnv("ColdFastCharge", overrides=overrides)
    family, scale_range = FAMILIES["cccv"]
    try:
        room = room_to_bound("multistage:rates=2C/0.6C,switch_soc=0.65,vmax=4.2", family, scale_range, env, [7],
                             objective="entropy", max_wall_time_s=120.0)  # fmt: skip
    finally:
        env.close()
    (draw,) = room["per_draw"]
    assert draw["seed"] == 7 and draw["status"] == "optimal", draw
    assert draw["baseline_spec"].startswith("cccv:rate=") and draw["baseline_note"].startswith("matched")
    assert abs(draw["baseline_time_s"] / draw["policy_time_s"] - 1.0) < TUNING_RTOL
    assert room["n"] == 1 and room["metric"] == "entropy_j_per_k"
    assert draw["bound"] <= min(draw["policy"], draw["baseline"]) * (1 + 1e-6)
    assert room["captured"] == pytest.approx((room["baseline"] - room["policy"]) / (room["baseline"] - room["bound"]))


def test_scale_ranges_reach_the_scenarios_maximum_rate() -> None:
    """A family's range ends at the scenario's c_rate_max: the LFP scenario's (4C) CC-CV could not be tuned past 3C."""
    import math

    from eomctl.charging.env import ChargingEnv
    from eomctl.evaluation.tuned import FAMILIES, scale_reach

    for scenario, top_c in (("LFPFastCharge", 4.0), ("FastCharge", 3.0)):
        env = ChargingEnv(scenario, overrides={"simulator": {"compile": False}})
        try:
            assert scale_reach(FAMILIES["cccv"][1], env) == (0.1, top_c)
            assert scale_reach((0.2, 1.5), env) == (0.2, 1.5)  # a narrower range is kept
        finally:
            env.close()
    assert all(hi == math.inf for _, (_, hi) in FAMILIES.values())


def test_per_draw_comparison_matches_the_policy_on_every_draw() -> None:
    """Plumbing on a cheap stand-in (a 60 -> 70 % charge on ColdFastCharge's draws, no JIT): the CC-CV rate is found
    per draw, so on each draw its charge takes the policy's time to the tuning tolerance; the rows pair the draws."""
    from eomctl.charging.env import ChargingEnv
    from eomctl.evaluation.tuned import FAMILIES, METRICS, TUNING_RTOL, per_draw_comparison

    overrides = {"simulator": {"compile": False}, "initial_soc": [0.6, 0.62], "target_soc": 0.7}
    env = ChargingEnv("ColdFastCharge", overrides=overrides)
    try:
        rows = per_draw_comparison("multistage:rates=2C/0.6C,switch_soc=0.65,vmax=4.2", *FAMILIES["cccv"], env,
                                   [3, 4, 5], "cccv_per_draw_oracle")  # fmt: skip
    finally:
        env.close()
    assert [r["metric"] for r in rows] == list(METRICS)
    assert all(r["family"] == "cccv_per_draw_oracle" and r["n"] == 3 and r["dropped"] == 0 for r in rows)
    assert rows[0]["tuning_note"].startswith("matched within 0.3 % on 3 of 3 draws")
    time_row = rows[0]  # every pair within the tolerance, so the mean difference is too
    assert abs(time_row["difference"]) < TUNING_RTOL * time_row["baseline_mean"]


def test_mpc_reference_runs_at_the_policys_time_on_the_draw() -> None:
    """Plumbing on a cheap stand-in (a 60 -> 66 % charge at 10 C, no JIT, short horizon): the MPC's rate is the CC-CV
    rate matched to the policy's time on that draw, and the MPC finishes within a control step of that time."""
    from eomctl.charging.env import ChargingEnv
    from eomctl.evaluation.tuned import TUNING_RTOL, mpc_on_draw

    overrides = {"simulator": {"compile": False}, "initial_soc": [0.6, 0.62], "target_soc": 0.66, "ambient_c": 10.0}
    env = ChargingEnv("ColdFastCharge", overrides=overrides)
    try:
        row = mpc_on_draw("multistage:rates=2C/0.6C,switch_soc=0.63,vmax=4.2", env, 7, "oracle", horizon_s=300.0)
        dt_s = env.scenario.dt_s
    finally:
        env.close()
    assert row["status"] == "finished" and row["seed"] == 7 and row["objective"] == "irreversible"
    assert row["spec"].startswith(f"mpc:rate={row['cccv_rate_c']:.6g}C,") and "state=oracle" in row["spec"]
    assert abs(row["cccv_time_s"] / row["policy_time_s"] - 1.0) < TUNING_RTOL
    assert abs(row["mpc_time_s"] - row["policy_time_s"]) <= dt_s
    assert row["mpc_irreversible_lli_pct"] > 0.0 and row["policy_irreversible_lli_pct"] > 0.0


def test_per_draw_comparison_can_match_each_draws_deadline() -> None:
    """Plumbing on a cheap stand-in (Deadline's draws, a 60 -> 70 % charge due in 10-15 min, no JIT): with the target
    "deadline" the CC-CV just meets each draw's deadline, whatever time the policy takes; a scenario without
    deadlines, or an unknown target, is refused by name."""
    from eomctl.charging.env import ChargingEnv
    from eomctl.evaluation.tuned import FAMILIES, TUNING_RTOL, per_draw_comparison

    overrides = {"simulator": {"compile": False}, "initial_soc": [0.6, 0.62], "target_soc": 0.7,
                 "deadline_s": [600.0, 900.0]}  # fmt: skip
    env = ChargingEnv("Deadline", overrides=overrides)
    try:
        deadlines_s = [env.reset(seed=s)[1]["deadline_s"] for s in (3, 4)]
        rows = per_draw_comparison("cccv:rate=2C,vmax=4.2,cutoff=C/20", *FAMILIES["cccv"], env, [3, 4],
                                   "cccv_at_deadline_oracle", target="deadline")  # fmt: skip
        with pytest.raises(ConfigError, match="'policy' or 'deadline'"):
            per_draw_comparison("cccv:rate=2C", *FAMILIES["cccv"], env, [3], "x", target="soon")
    finally:
        env.close()
    time_row = rows[0]
    assert time_row["metric"] == "charge_time_s" and time_row["n"] == 2
    assert abs(time_row["baseline_mean"] / np.mean(deadlines_s) - 1.0) < TUNING_RTOL
    assert time_row["policy_mean"] < 0.6 * time_row["baseline_mean"]  # 2C finishes long before either deadline
    assert time_row["tuning_note"].endswith("the policy finished after the deadline on 0 draw(s)")
    assert rows[1]["metric"] == "entropy_j_per_k" and rows[1]["difference"] > 0.0  # the early charge costs entropy
    cold = ChargingEnv("ColdFastCharge", overrides={"simulator": {"compile": False}, "initial_soc": [0.6, 0.62],
                                                    "target_soc": 0.65})  # fmt: skip
    try:
        with pytest.raises(ConfigError, match="needs a scenario with deadline_s"):
            per_draw_comparison("cccv:rate=2C", *FAMILIES["cccv"], cold, [3], "x", target="deadline")
    finally:
        cold.close()
