"""Prognostics: features on known answers, the closed-form ridge, scoring, a tiny real fleet cell, the real 44-cell
set and the ``eomctl prognose`` command line."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_datasets import data_cache  # noqa: F401  (the session's fetched data cache)

from eomctl.analytics.features import cross_predict, fit_ridge, life_exponent, q_of_v, rmse, severson_log_var
from eomctl.analytics.prognostics import crossing_cycle, evaluate_real, fleet_sample, score
from eomctl.core.errors import EomctlError
from eomctl.lifetime.fleet import PLANS, FleetPlan, _diagnostic, fleet_task, fleet_tasks


def _eomctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eomctl.cli.main", *args], capture_output=True, text=True, timeout=900, check=False
    )


# ------------------------------------------------------------------------------------------- features
def test_severson_feature_on_known_curves() -> None:
    v = np.linspace(4.1, 3.0, 200)  # a discharge: voltage falls as charge is drawn
    q = 5.0 * (4.1 - v) / 1.1
    assert severson_log_var(q, v, q, v) == -30.0  # identical cycles: zero variance (floored)
    # A uniform 10 % capacity loss: dQ(V) = -0.1 Q(V), var = 0.01 var(Q) on the shared grid.
    grid = np.linspace(3.0, 4.1, 1000)
    expected = np.log10(np.var(0.1 * q_of_v(q, v, grid), ddof=1))
    np.testing.assert_allclose(severson_log_var(q, v, 0.9 * q, v), expected, rtol=1e-12)
    # A constant offset has no variance over voltage: the feature sees the shape of the change, not its size.
    assert severson_log_var(q, v, q - 0.2, v) < -25
    with pytest.raises(EomctlError, match="share no voltage"):
        severson_log_var(q, v, q, v - 2.0)


def test_life_exponent_recovers_exponential_growth() -> None:
    n = np.arange(5, 26)
    np.testing.assert_allclose(life_exponent(n, 7.0 * np.exp(0.012 * n)), 0.012, rtol=1e-10)
    assert life_exponent(n, np.full(n.size, 7.0)) == pytest.approx(0.0, abs=1e-15)  # a cell that does not age
    with pytest.raises(EomctlError):
        life_exponent([3, 3], [1.0, 2.0])


def test_ridge_recovers_a_linear_law_and_does_not_invent_one() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3))
    y = 2.0 + x @ np.array([1.5, -0.5, 0.0])
    model = fit_ridge(x, y)
    x_new = rng.normal(size=(5, 3))
    np.testing.assert_allclose(model.predict(x_new), 2.0 + x_new @ np.array([1.5, -0.5, 0.0]), atol=0.02)
    # Pure noise: out-of-sample predictions are no better than the target's spread (the penalty goes up).
    noise = rng.normal(size=40)
    assert rmse(cross_predict(x, noise), noise) > 0.95 * noise.std()
    with pytest.raises(EomctlError, match="finite"):
        fit_ridge(np.array([[1.0], [np.nan], [2.0]]), np.array([1.0, 2.0, 3.0]))


def test_crossing_cycle_interpolates_and_censors() -> None:
    cycles, soh = np.array([0.0, 50.0, 100.0]), np.array([1.0, 0.9, 0.7])
    assert crossing_cycle(cycles, soh, 0.8) == pytest.approx(75.0)
    assert math.isnan(crossing_cycle(cycles, soh, 0.5))


def test_score_on_a_law_the_features_carry() -> None:
    rng = np.random.default_rng(2)
    f = rng.normal(size=30)
    table = {
        "f": f,
        "noise": rng.normal(size=30),
        "soh_horizon": 0.9 + 0.02 * f,
        "life": 10 ** (2.5 + 0.1 * f),
        "early_cycle": np.full(30, 10.0),
    }
    table["life"][:3] = np.nan  # censored cells are left out and counted
    everyone = np.ones(30, dtype=bool)
    good, bad = score(table, ("f",), everyone, everyone), score(table, ("noise",), everyone, everyone)
    assert good["soh_rmse_pct"] < 1e-3 and good["life_mape_pct"] < 1e-3 and good["rul_mae_cycles"] < 1e-2
    assert bad["soh_rmse_pct"] > 1.0 and good["n_censored"] == 3 and good["n_life"] == 27


# ------------------------------------------------------------------------------------------- the fleet
def test_fleet_plans_are_seeded_and_cover_both_chemistries() -> None:
    tasks = fleet_tasks(PLANS["quick"])
    assert tasks == fleet_tasks(PLANS["quick"])  # the spread is drawn from a seeded generator
    assert {t["chemistry"] for t in tasks} == {"NMC", "LFP"}
    assert len(fleet_tasks(PLANS["full"])) == 24
    assert len({t["sei_diffusivity"] for t in tasks}) == len(tasks)  # cell-to-cell spread


def test_tiny_fleet_cell_runs_and_yields_features() -> None:
    plan = dataclasses.replace(
        FleetPlan("tiny", cells=("LGM50",), ambients_c=(25.0,), rates=("1C",), replicates=1),
        sei_diffusivity=2e-18, max_cycles=8, rpt_every=4, early=(1, 4), horizon=8,
    )  # fmt: skip
    record = fleet_task(**fleet_tasks(plan)[0])
    assert record["error"] is None, record["error"]
    assert [c["cycle"] for c in record["checks"]] == [0.0, 1.0, 4.0, 8.0]
    soh = [c["soh"] for c in record["checks"]]
    assert soh[0] == 1.0 and all(np.diff(soh) < 0)  # capacity fades check to check
    assert sorted(r["cycle"] for r in record["rows"]) == [float(n) for n in range(1, 9)]  # no jump this early
    sample = fleet_sample(record, dataclasses.asdict(plan))
    assert sample is not None
    assert sample["life_exponent"] > 0  # entropy per cycle grows as the SEI thickens
    assert sample["log_rs_growth"] > 0 and sample["log_pulse_growth"] > 0  # resistance grows
    assert -12 < sample["log_var_dq"] < -2 and 0.8 < sample["soh_horizon"] < 1.0
    np.testing.assert_allclose(sample["soh_horizon"], soh[-1])


def test_diagnostic_leaves_the_cell_as_it_found_it() -> None:
    from eomctl.lifetime.engine import LifetimeConfig, build_simulator

    sim = build_simulator(LifetimeConfig(model="SPM", cell="LGM50"))
    sim.reset(soc=0.0, ambient_k=298.15)
    before = sim.state
    out = _diagnostic(sim)
    assert sim.state is before
    assert 4.0 < out["capacity_ah"] < 5.2 and out["rs_ohm"] > 0 and out["entropy_per_ah"] > 0
    assert 0.01 < out["pulse_ohm"] < 0.1 and out["q_ah"][-1] == out["capacity_ah"]


# ------------------------------------------------------------------------------------------- real data
def test_real_set_severson_beats_the_mean_and_impedance_is_reported_as_measured(data_cache: Path) -> None:  # noqa: F811
    report = evaluate_real(str(data_cache))
    s = report["scores"]
    assert report["n_cells"] == 44 and s["severson"]["n_life"] + s["severson"]["n_censored"] == 44
    # Severson's feature carries most of the retention at cycle 299 (r = -0.90 on these cells).
    assert report["pearson_r_with_retention_299"]["log_var_dq"] < -0.85
    assert s["severson"]["soh_rmse_pct"] < 0.6 * s["train mean"]["soh_rmse_pct"]
    assert s["severson"]["life_mape_pct"] < s["train mean"]["life_mape_pct"]
    for name in ("entropy (impedance R_S)", "combined"):
        assert np.isfinite(s[name]["soh_rmse_pct"]) and np.isfinite(s[name]["rul_mae_cycles"])
    assert len(report["predictions"]["soh severson"]) == 44


def test_cli_prognose_real_and_bad_input(tmp_path: Path, data_cache: Path) -> None:  # noqa: F811
    out, png = tmp_path / "p.json", tmp_path / "p.png"
    proc = _eomctl("prognose", "--real", "--cache", str(data_cache), "--out", str(out), "--plot", str(png))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert set(report) == {"real", "ornl_hppc"} and png.stat().st_size > 10_000
    assert "severson" in proc.stdout and "soh_rmse_pct" in proc.stdout
    assert set(report["ornl_hppc"]) == {"10C", "25C", "40C"}
    proc = _eomctl("prognose", "--out", str(out))
    assert proc.returncode == 2 and "nothing to do" in proc.stderr and "Traceback" not in proc.stderr
    proc = _eomctl("prognose", "--real", "--cache", str(tmp_path / "empty"))
    assert proc.returncode == 2 and "eomctl data fetch" in proc.stderr and "Traceback" not in proc.stderr
