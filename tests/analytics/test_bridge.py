"""Entropy-impedance bridge on a small real fleet (LG M50 NMC and A123 LFP, SPMe + lumped thermal + SEI/plating)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eomctl.analytics import bridge


def test_fleet_is_seeded_and_alternates_chemistries() -> None:
    states = bridge.fleet_states(8, seed=3)
    assert states == bridge.fleet_states(8, seed=3) and states != bridge.fleet_states(8, seed=4)
    assert [s["cell"] for s in states] == list(bridge.CELLS) * 4
    for s in states:
        assert 10.0 <= s["ambient_c"] <= 40.0 and 0.0 <= s["inputs"][bridge.CONTACT] <= 0.015
        assert 5e-9 <= s["inputs"][bridge.SEI] <= 1e-7
    json.dumps(states)  # tasks must be JSON-serialisable (checkpoint keys)
    with pytest.raises(bridge.BridgeError, match="at least 2"):
        bridge.fleet_states(1)


@pytest.fixture(scope="module")
def study() -> dict[str, Any]:
    return bridge.bridge_study(quick=True, executor="serial")


def test_quick_study_measures_every_state(study: dict[str, Any]) -> None:
    assert study["n_states"] == bridge.QUICK_STATES and study["n_failed"] == 0
    for row in study["rows"]:
        current_a = bridge.CHARGE_RATE_C * row["capacity_ah"]
        assert 0.005 < row["r0_ohm"] < row["resistance_ohm"] < 0.2  # diffusion adds to the instantaneous drop
        assert row["r_s_ohm"] > row["r0_ohm"]
        # Power loss is I^2 R_S at constant current (the definition of R_S, docs/physics.md §4).
        np.testing.assert_allclose(row["power_loss_w"], current_a**2 * row["r_s_ohm"], rtol=1e-12)
        # Sigma / Q = int I R_S / T dt / Q lies between I R_S / T_end and I R_S / T_ambient (T rises on charge).
        upper = current_a * row["r_s_ohm"] / (row["ambient_c"] + 273.15)
        lower = current_a * row["r_s_ohm"] / row["temperature_end_k"]
        assert lower * 0.999 <= row["entropy_per_coulomb"] <= upper * 1.001
        # lambda at a fixed time is a clock: ~1 / 600 s whatever the state (docs/physics.md §4).
        np.testing.assert_allclose(row["lambda_per_s"] * bridge.CHARGE_S, 1.0, atol=0.2)


def test_correlations_cover_every_pair(study: dict[str, Any]) -> None:
    table = {(c["group"], c["x"], c["y"]): c for c in study["correlations"]}
    assert len(table) == 3 * len(bridge.X_QUANTITIES) * len(bridge.Y_QUANTITIES)
    for cell in bridge.CELLS:
        # Within a chemistry the charge current is the same, so power loss and R_S are the same ranking: r = 1.
        np.testing.assert_allclose(table[(cell, "power_loss_w", "r_s_ohm")]["r"], 1.0, rtol=1e-9)
        assert table[(cell, "resistance_ohm", "r_s_ohm")]["n"] == bridge.QUICK_STATES // 2
    assert table[("all", "resistance_ohm", "r_s_ohm")]["n"] == bridge.QUICK_STATES
    assert all(-1.0 <= c["r"] <= 1.0 and 0.0 <= c["p"] <= 1.0 for c in study["correlations"])


def test_contact_resistance_moves_pulse_and_entropy_resistance_alike() -> None:
    """The bridge's physics: a series resistance dRc adds dRc to the pulse resistance and to mean R_S."""
    state = bridge.fleet_states(2, seed=0)[0]
    sim = bridge.bridge_simulator(state["cell"])
    rows = [
        bridge.measure_state(sim, 0, state["cell"], 25.0, {**state["inputs"], bridge.CONTACT: value})
        for value in (0.0, 0.01)
    ]
    np.testing.assert_allclose(rows[1]["r0_ohm"] - rows[0]["r0_ohm"], 0.01, rtol=1e-3)
    # The extra Joule heat warms the lumped cell, lowering the other resistances a little over 10 s / 600 s.
    np.testing.assert_allclose(rows[1]["resistance_ohm"] - rows[0]["resistance_ohm"], 0.01, rtol=0.01)
    # Over the 600 s charge the extra 0.25 W warms the cell by ~1 K: R_S rises by a little less than dRc (measured
    # 8.7 mOhm; exactly dRc in an isothermal model, tests/cell/test_simulator.py).
    assert 0.007 < rows[1]["r_s_ohm"] - rows[0]["r_s_ohm"] < 0.01


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "eomctl.cli.main", *args], capture_output=True, text=True, timeout=300)


def test_cli_bridge(tmp_path: Path) -> None:
    out = {k: str(tmp_path / f"bridge.{k}") for k in ("csv", "json", "png")}
    done = _cli("bridge", "--states", "2", "--out", out["csv"], "--json", out["json"], "--plot", out["png"])
    assert done.returncode == 0, done.stderr
    report = json.loads(Path(out["json"]).read_text())
    assert report["n_states"] == 2 and report["claimed_r"] == bridge.CLAIMED_R
    assert len(report["correlations"]) == 24 and Path(out["png"]).stat().st_size > 1000
    assert Path(out["csv"]).read_text().count("\n") == 3  # header + one row per state
    bad = _cli("bridge", "--states", "1", "--out", str(tmp_path / "x.csv"))
    assert bad.returncode == 2 and "eomctl: error:" in bad.stderr and "Traceback" not in bad.stderr
