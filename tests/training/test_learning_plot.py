"""Learning curves from a run's evaluations (a stand-in evaluations.npz in SB3's EvalCallback format: plumbing only;
tests/training/test_train.py covers runs that write real ones)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eomctl.cli.main import main
from eomctl.core.errors import ConfigError
from eomctl.plotting.learning import load_evaluations


def _run(tmp_path: Path, name: str, offset: float) -> Path:
    run = tmp_path / name
    (run / "eval").mkdir(parents=True)
    results = np.array([[-70.0, -60.0], [-50.0, -40.0]]) + offset
    np.savez(run / "eval" / "evaluations.npz", timesteps=np.array([5000, 10000]), results=results,
             ep_lengths=np.array([[60, 62], [70, 72]]))  # fmt: skip
    return run


def test_curves_are_read_and_drawn(tmp_path: Path) -> None:
    runs = [_run(tmp_path, "ppo", 0.0), _run(tmp_path, "sac", -5.0)]
    curve = load_evaluations(runs[0])
    np.testing.assert_allclose(curve["return_mean"], [-65.0, -45.0])
    np.testing.assert_allclose(curve["return_std"], [5.0, 5.0])
    np.testing.assert_allclose(curve["length_mean"], [61.0, 71.0])
    out = tmp_path / "learning.png"
    assert main(["plot", "learning", *map(str, runs), "--labels", "PPO", "SAC", "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_without_evaluations_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no evaluations in"):
        load_evaluations(tmp_path)
