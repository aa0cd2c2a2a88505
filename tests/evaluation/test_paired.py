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
