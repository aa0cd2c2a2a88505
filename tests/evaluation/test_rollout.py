"""Rollouts of trained agents and baselines, the per-step CSV, and the end-of-training report.

A tiny PPO run on the real FastCharge env made cheap (SPM, isothermal, no degradation, no JIT) is trained once per
module; rollouts of it use the scenario overrides recorded in its run folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from eomctl.core.errors import ConfigError
from eomctl.core.io import read_csv
from eomctl.evaluation.rollout import COLUMNS, by_episode, make_env, rollout, run_episode
from eomctl.plotting.traces import plot_traces
from eomctl.policies.baselines import CCCV
from eomctl.policies.specs import parse_policy
from eomctl.policies.trained import NormalizedPolicy, load_agent
from eomctl.training.final_evaluation import evaluate_run
from eomctl.training.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[2]
CHEAP = {"simulator": {"model": "SPM", "thermal": "isothermal", "degradation": False, "compile": False}}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    config = TrainConfig(
        n_timesteps=64,
        n_envs=1,
        hyperparams={"n_steps": 32, "batch_size": 32, "n_epochs": 1, "policy_kwargs": {"net_arch": [8]}},
        compile=False,
        env_overrides=CHEAP,
        eval_freq=32,
        checkpoint_freq=32,
        final_eval_episodes=0,
        progress_bar=False,
    )
    yield train(config, out=tmp_path_factory.mktemp("rollout") / "run").run_dir


def header(path: Path) -> list[str]:
    return path.read_text().splitlines()[0].split(",")


def test_rollout_of_a_run_folder_writes_exactly_the_columns(run_dir: Path, tmp_path: Path) -> None:
    out, plot = tmp_path / "r.csv", tmp_path / "r.png"
    rows = rollout(run_dir, episodes=2, seed=3, out=out)
    plot_traces(by_episode(rows), plot, "rollout")
    assert header(out) == list(COLUMNS)
    data = read_csv(out)
    assert set(data["episode"]) == {0, 1} and plot.stat().st_size > 0
    for episode in (0, 1):
        rows = data["episode"] == episode
        np.testing.assert_array_equal(data["step"][rows], np.arange(1, rows.sum() + 1))
        assert np.all(np.diff(data["time_s"][rows]) > 0) and np.all(np.diff(data["entropy_j_per_k"][rows]) > 0)
    assert np.all((data["action"] >= -1) & (data["action"] <= 1)) and np.all(np.isfinite(data["reward"]))
    assert len(rows) == len(data["step"])


def test_run_folder_and_model_files_bring_their_normalisation(run_dir: Path) -> None:
    for spec, stats in (
        (run_dir, "vecnormalize.pkl"),
        (run_dir / "model.zip", "vecnormalize.pkl"),
        (run_dir / "best_model.zip", "best_vecnormalize.pkl"),
        (run_dir / "checkpoints" / "rl_model_64_steps.zip", "checkpoints/rl_model_vecnormalize_64_steps.pkl"),
    ):
        policy = load_agent(spec)
        assert isinstance(policy, NormalizedPolicy) and policy.obs_stats is not None, spec
        assert (run_dir / stats).is_file()
    policy = load_agent(run_dir)
    obs = np.array([0.1, 3.6, 298.15, 0.0, 0.0, 1.0, 0.0, 0.0, 0.2, 1.0], dtype=np.float32)
    expected, _ = policy.model.predict(policy.obs_stats.normalize_obs(obs), deterministic=True)
    action, _ = policy.predict(obs)
    np.testing.assert_allclose(action, np.asarray(expected).reshape(1), rtol=1e-6)
    raw, _ = policy.model.predict(obs, deterministic=True)
    assert not np.allclose(raw, expected)  # normalisation changes what the network sees


def test_baseline_spec_rollout_is_bound_and_limited(tmp_path: Path) -> None:
    env = make_env("eomctl/FastCharge-v0", CHEAP)
    try:
        rows = run_episode(parse_policy("cccv:rate=2C,vmax=4.1,cutoff=C/20"), env, seed=0)
    finally:
        env.close()
    assert isinstance(parse_policy("cccv:rate=2C"), CCCV)
    assert max(r["voltage_v"] for r in rows) <= 4.1 + 1e-3  # the CC-CV's own CV voltage, not the cell's 4.2 V
    assert rows[0]["current_a"] == pytest.approx(2.0 * 5.0, rel=0.05) and rows[-1]["success"]


def test_unknown_env_is_named_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown env 'eomctl/FastCharg-v0'; eomctl's are \['eomctl/AgedCell-v0'"):
        rollout("cccv:rate=1C", "eomctl/FastCharg-v0", out=tmp_path / "r.csv")


def test_unknown_agent_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown protocol"):
        parse_policy("runs/does-not-exist")
    with pytest.raises(ConfigError, match="not found"):
        load_agent("runs/does-not-exist")


def test_rollout_cli(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.csv"
    command = [sys.executable, str(ROOT / "scripts" / "rollout.py"), "--agent", str(run_dir), "--out", str(out)]
    done = subprocess.run([*command, "--episodes", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert header(out) == list(COLUMNS) and "rows ->" in done.stdout


def test_final_evaluation_writes_table_and_plot(run_dir: Path) -> None:
    record = evaluate_run(run_dir, episodes=1)
    assert record is not None
    table = json.loads((run_dir / "evaluation.json").read_text())["table"]
    labels = [row["label"] for row in table]
    assert labels[:2] == ["policy", "cccv_matched_time"] and {"cccv_0.5C", "cccv_1C", "cccv_2C"} <= set(labels)
    assert header(run_dir / "evaluation.csv")[:3] == ["label", "policy", "charge_time_s"]
    assert (run_dir / "evaluation.png").stat().st_size > 0
    # The best model by periodic evaluation is the one evaluated (the tiny run evaluates every 32 steps).
    assert (run_dir / "best_model.zip").is_file() and record["policy"].endswith("best_model.zip")


# ------------------------------------------------------------------------------------ the shipped pretrained policy
SHIPPED = "agents/ppo_FastCharge-v0.zip"


def test_shipped_policy_is_small_and_brings_its_normalisation() -> None:
    model = ROOT / SHIPPED
    assert model.stat().st_size < 1_000_000
    policy = load_agent(model)
    assert isinstance(policy, NormalizedPolicy) and policy.obs_stats is not None


def test_shipped_policy_rolls_out_from_any_folder_and_matches_its_summary(tmp_path: Path) -> None:
    """``eomctl rollout --agent agents/<file>`` works outside the checkout, and reproduces the stored evaluation."""
    out = tmp_path / "shipped.csv"
    args = ["rollout", "--agent", SHIPPED, "--env", "eomctl/FastCharge-v0", "--episodes", "1", "--out", str(out)]
    subprocess.run(
        [sys.executable, "-m", "eomctl.cli.main", *args],
        check=True,
        cwd=tmp_path,  # not the checkout: agents/ is found beside the package
        capture_output=True,
    )
    data = read_csv(out)
    summary = json.loads((ROOT / "agents" / "ppo_FastCharge-v0.json").read_text(encoding="utf-8"))
    headline = summary["policies"][0]["headline"]
    assert data["soc"][-1] >= 0.8  # reached the scenario's target
    # The CSV's last row is the end of the step that crossed 80 %; the summary interpolates to the crossing.
    assert data["time_s"][-2] <= headline["charge_time_s"] <= data["time_s"][-1]
    assert data["entropy_j_per_k"][-2] <= headline["entropy_j_per_k"] <= data["entropy_j_per_k"][-1]
