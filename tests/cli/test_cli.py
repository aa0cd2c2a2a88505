"""The ``eomctl`` command line, run as a user would: in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from eomctl.cell.experiment import CSV_COLUMNS
from eomctl.core.io import read_csv


def _eomctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eomctl.cli.main", *args], capture_output=True, text=True, timeout=600, check=False
    )


def test_simulate_writes_the_documented_csv(tmp_path: Path) -> None:
    out = tmp_path / "run.csv"
    proc = _eomctl(
        "simulate", "--cell", "Chen2020", "--model", "SPM", "--thermal", "lumped", "--soc0", "0.1",
        "--ambient-c", "25", "--protocol", "Charge at 1C until 4.2 V", "--protocol", "Hold at 4.2 V until C/10",
        "--protocol", "Rest for 10 minutes", "--protocol", "Discharge at 10 W for 5 minutes",
        "--dt", "20", "--out", str(out), "--no-compile",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().splitlines()[0] == ",".join(CSV_COLUMNS)
    data = read_csv(out)
    charging = data["current_a"] > 0
    assert charging.sum() > 10
    assert np.all(np.diff(data["entropy_j_per_k"]) >= 0)  # Sigma never decreases
    assert data["voltage_v"].max() <= 4.2 + 2e-4
    assert np.all(np.diff(data["time_s"]) > 0)
    # The CV phase ended at C/10 and the power step discharged at 10 W (P = I V on the last rows).
    power_w = (data["current_a"] * data["voltage_v"])[-5:]
    np.testing.assert_allclose(power_w, -10.0, rtol=5e-3)
    assert data["energy_in_j"][-1] < data["energy_in_j"].max()  # energy in falls while discharging


def test_a_discharge_first_protocol_starts_full(tmp_path: Path) -> None:
    """Without --soc0 a protocol that discharges first starts from a full cell (it used to start at 10 % SOC and stop
    at the cut-off after ~100 s); one that charges first starts at 10 %."""
    for step, soc0, duration_s in (
        ("Discharge at 1C until 3 V", 1.0, 1800.0),
        ("Charge at 1C for 1 minute", 0.1, 60.0),
    ):
        out = tmp_path / "run.csv"
        proc = _eomctl("simulate", "--model", "SPM", "--no-compile", "--protocol", step, "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        data = read_csv(out)
        assert abs(data["soc"][0] - soc0) < 0.02, (step, data["soc"][0])
        assert data["time_s"][-1] >= duration_s, (step, data["time_s"][-1])  # a 1C discharge from full: ~1 h


def test_cells_lists_the_builtin_cells() -> None:
    proc = _eomctl("cells")
    assert proc.returncode == 0, proc.stderr
    assert "LGM50" in proc.stdout and "A123-LFP" in proc.stdout and "Prada2013" in proc.stdout


def test_a_step_cut_short_by_the_cells_window_says_so(tmp_path: Path) -> None:
    out = tmp_path / "run.csv"
    proc = _eomctl("simulate", "--model", "SPM", "--no-compile", "--soc0", "0.1", "--protocol",
                   "Discharge at 1C for 1 hour", "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "note: step 'Discharge at 1C for 1 hour' stopped at the cell's 2.5 V limit after" in proc.stderr
    assert "start elsewhere with --soc0" in proc.stderr
