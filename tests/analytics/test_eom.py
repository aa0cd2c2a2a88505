"""EOM metrics, life exponent and energy-entropy balance: known answers, a real PyBaMM charge + rest, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eomctl.analytics import eom
from eomctl.cell.catalogue import load_cell
from eomctl.cell.experiment import Trace, run_protocol
from eomctl.cell.simulator import CellSimulator, SimulatorConfig
from eomctl.core.io import write_csv


@pytest.mark.parametrize("with_rate", [True, False])
@pytest.mark.parametrize("t_first", [0.0, 30.0])  # simulate CSVs start at the initial state, rollouts at the 1st step
def test_constant_dissipation_gives_lambda_t_one(with_rate: bool, t_first: float) -> None:
    t = t_first + 30.0 * np.arange(50)
    sigma = 2e-3 * t  # Sigma_dot = 2 mW/K from t_0 = 0 s
    m = eom.eom_metrics(t, sigma, np.full_like(t, 2e-3) if with_rate else None)
    live = t > 0
    np.testing.assert_allclose(m["lambda_per_s"][live] * t[live], 1.0, rtol=1e-12)
    np.testing.assert_allclose(m["lambda_tilde"][live], 1.0, rtol=1e-12)
    np.testing.assert_allclose(m["kappa_tilde"][1:], 0.0, atol=1e-9)
    # lambda is a clock: kappa = d(1/t)/dt, exactly -1 / (t_k t_{k-1}) for the backward difference
    both = live[1:] & live[:-1]
    np.testing.assert_allclose(m["kappa_per_s2"][1:][both], -1.0 / (t[1:] * t[:-1])[both], rtol=1e-9)


def test_power_law_dissipation_has_constant_lambda_tilde() -> None:
    t = np.linspace(0.0, 3600.0, 361)
    sigma = 1e-4 * t**1.5  # Sigma_dot / (Sigma / t) = 1.5 at every time: lambda~ = 1.5, kappa~ = 0
    m = eom.eom_metrics(t, sigma, 1.5e-4 * t**0.5)
    np.testing.assert_allclose(m["lambda_tilde"][1:], 1.5, rtol=1e-12)
    np.testing.assert_allclose(m["kappa_tilde"], 0.0, atol=1e-9)
    assert m["lambda_per_s"][0] == 0.0  # masked while Sigma = 0


def test_life_exponent_known_answers() -> None:
    n = np.array([1.0, 2.0, 4.0, 6.0, 10.0, 20.0])
    np.testing.assert_allclose(eom.life_exponent(n, 7.0 * np.exp(0.01 * n))["lambda_life"], 0.01, rtol=1e-10)
    np.testing.assert_allclose(eom.life_exponent(n, np.full(6, 7.0))["lambda_life"], 0.0, atol=1e-15)
    cycles = np.arange(1.0, 301.0)
    knee = eom.life_exponent(cycles, 5.0 + np.where(cycles > 200, 0.01 * (cycles - 200) ** 2, 0.0))
    assert np.argmax(knee["dlambda_life_dn"]) in (199, 200, 201)  # the knee is where lambda_life turns up
    rows = {"cycle": np.array([0.0, 1, 2, 3, 4]), "rpt": np.array([1.0, 0, 0, 0, 1]), "entropy_charge_j_per_k": n[:5]}
    np.testing.assert_array_equal(eom.lifetime_metrics(rows)["cycle"], [1.0, 2.0, 3.0])  # RPT rows left out


@pytest.fixture(scope="module")
def charge_rest() -> tuple[CellSimulator, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A real charge + rest: Chen2020 (LG M50) SPMe + lumped thermal, 1C CC to 4.2 V from 10 % SOC, 30 min rest."""
    sim = CellSimulator(load_cell("Chen2020"), SimulatorConfig(model="SPMe", thermal="lumped", compile=False))
    sim.reset(soc=0.1)
    trace = run_protocol(sim, ["Charge at 1C until 4.2 V", "Rest for 30 minutes"], dt_s=10.0)
    columns = trace.columns(trace.rows[0].keys())
    return sim, columns, eom.trajectory_metrics(columns)


def test_real_charge_metrics(charge_rest: tuple[CellSimulator, dict[str, np.ndarray], dict[str, np.ndarray]]) -> None:
    _, columns, m = charge_rest
    assert np.all(np.diff(m["sigma_j_per_k"]) >= 0) and np.all(m["sigma_dot_w_per_k"] >= 0)  # second law
    charging = np.flatnonzero(columns["current_a"] > 0)
    cc = charging[5:-1]  # constant current, after its first 50 s and before the step cut at 4.2 V
    lam, kap, rate = m["lambda_tilde"][cc], m["kappa_tilde"][cc], m["sigma_dot_w_per_k"][cc]
    np.testing.assert_allclose(lam, 1.0, atol=0.15)  # dissipation stays near its running mean at 1C
    # kappa~ = d lambda~ / d ln t = lambda~ (1 + s - lambda~), s = d ln Sigma_dot / d ln t: it is 0 only where the
    # dissipation is steady. In a real CC charge R_S follows the graphite staging plateaus, so kappa~ swings by
    # +-0.5 (measured); where Sigma_dot is steady (|s| < 0.02, lambda~ within 0.02 of 1) it is ~0.
    s = np.gradient(np.log(rate), np.log(columns["time_s"][cc]))
    np.testing.assert_allclose(kap, lam * (1.0 + s - lam), atol=0.05)
    steady = (np.abs(s) < 0.02) & (np.abs(lam - 1.0) < 0.02)
    assert steady.sum() >= 5 and np.max(np.abs(kap[steady])) < 0.05
    rest = np.flatnonzero(columns["current_a"] == 0)[2:]  # the rest, after its first row
    assert np.all(m["lambda_per_s"][rest] == 0) and np.all(m["kappa_per_s2"][rest[1:]] == 0)
    assert np.all(m["kappa_tilde"][rest[1:]] == 0)
    sigma_end = m["sigma_j_per_k"][charging[-1]]
    assert 5.0 < sigma_end < 15.0  # docs/physics.md: ~8-12 J/K for a 1C charge of this cell
    np.testing.assert_allclose(m["sigma_j_per_k"][rest], sigma_end, rtol=1e-12)  # Sigma stays at rest


def test_real_charge_balance_closes(
    charge_rest: tuple[CellSimulator, dict[str, np.ndarray], dict[str, np.ndarray]],
) -> None:
    sim, columns, _ = charge_rest
    report = eom.energy_balance(columns, eom.reversible_heat(sim, columns))
    assert abs(report["residual_rel"]) < 5e-3
    np.testing.assert_allclose(
        report["energy_in_j"] - report["free_energy_j"], report["heat_irr_quadrature_j"], rtol=1e-8
    )
    assert report["reversible_heat_j"] == 0.0  # Chen2020's entropic coefficients are 0
    # From the samples alone (as for a CSV without quadrature columns) the balance still closes to < 0.5 %.
    sampled = {k: v for k, v in columns.items() if k not in ("energy_in_j", "free_energy_j")}
    assert abs(eom.energy_balance(sampled)["residual_rel"]) < 5e-3


def test_reversible_heat_reverses_with_current() -> None:
    """Q_rev = int I T dU/dT dt is reversible: a charge and the discharge back over the same SOC window cancel."""
    sim = CellSimulator(load_cell("A123-LFP"), SimulatorConfig(model="SPMe", thermal="lumped", compile=False))
    sim.reset(soc=0.3)
    runs: list[Trace] = [run_protocol(sim, [f"{d} at 1C for 12 minutes"], dt_s=10.0) for d in ("Charge", "Discharge")]
    q_charge, q_discharge = (eom.reversible_heat(sim, r.columns(r.rows[0].keys())) for r in runs)
    assert abs(q_charge) > 1.0
    np.testing.assert_allclose(q_charge, -q_discharge, rtol=0.01)


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"time_s": np.arange(3.0)}, "entropy_j_per_k"),
        ({"time_s": np.array([0.0, 1.0, 1.0]), "entropy_j_per_k": np.zeros(3)}, "strictly increasing"),
    ],
)
def test_bad_records_are_named(columns: dict[str, np.ndarray], message: str) -> None:
    with pytest.raises(eom.AnalysisError, match=message):
        eom.trajectory_metrics(columns)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "eomctl.cli.main", *args], capture_output=True, text=True, timeout=120)


def test_cli_analyze(tmp_path: Path) -> None:
    t = np.arange(0.0, 101.0, 10.0)
    current = np.where(t > 0, 5.0, 0.0)
    sigma = 1e-3 * t
    csv = write_csv(
        tmp_path / "run.csv",
        {
            "time_s": t,
            "current_a": current,
            "voltage_v": np.full_like(t, 3.9),
            "ocv_v": np.full_like(t, 3.84),
            "temperature_k": np.full_like(t, 300.0),
            "entropy_rate_w_per_k": np.where(t > 0, 1e-3, 0.0),
            "entropy_j_per_k": sigma,
        },
    )
    done = _cli("analyze", str(csv), "--out", str(tmp_path / "m.csv"), "--balance", str(tmp_path / "b.json"),
                "--plot", str(tmp_path / "p.png"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    from eomctl.core.io import read_csv

    np.testing.assert_allclose(read_csv(tmp_path / "m.csv")["lambda_tilde"][1:], 1.0, rtol=1e-12)
    # 5 A x 0.06 V = 0.3 W = 300 K x 1 mW/K: the balance closes exactly on this record
    (report,) = json.loads((tmp_path / "b.json").read_text())["charges"]
    assert abs(report["residual_rel"]) < 1e-12 and (tmp_path / "p.png").stat().st_size > 1000


def test_cli_analyze_lifetime_and_bad_input(tmp_path: Path) -> None:
    n = np.arange(1.0, 11.0)
    life = write_csv(tmp_path / "life.csv", {"cycle": n, "rpt": 0 * n, "entropy_charge_j_per_k": np.exp(0.02 * n)})
    assert _cli("analyze", str(life), "--out", str(tmp_path / "l.csv")).returncode == 0
    bad = write_csv(tmp_path / "bad.csv", {"time_s": n, "voltage_v": n})
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    text = tmp_path / "text.csv"
    text.write_text("time_s,current_a,voltage_v,entropy_j_per_k\n0,abc,3.5,0\n10,1,3.6,0.1\n")
    cases = ((bad, "needs the column", 2), (tmp_path / "missing.csv", "no such file", 4),
             (empty, "the file is empty", 4),
             (text, "line 2, column 'current_a': 'abc' is not a number", 4))  # fmt: skip
    for path, message, code in cases:  # 2: a record without what the analysis needs; 4: a damaged file
        done = _cli("analyze", str(path), "--out", str(tmp_path / "x.csv"), "--balance", str(tmp_path / "b.json"))
        assert done.returncode == code and "eomctl: error:" in done.stderr and "Traceback" not in done.stderr
        assert message in done.stderr, done.stderr
    assert not (tmp_path / "b.json").exists()  # no NaN balance written
