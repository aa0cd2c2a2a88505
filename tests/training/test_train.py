"""Training: hyperparameter files and parsing, every algorithm, the command line, reproducibility, resuming.

Runs use the real FastCharge env made cheap (SPM, isothermal, no degradation, no JIT: ~400 steps/s, ~2 s to build)
and tiny budgets with small networks: they test the plumbing and the bookkeeping, not what an agent learns.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from stable_baselines3.common.callbacks import BaseCallback

from eomctl.core.errors import ConfigError
from eomctl.training.runs import write_config
from eomctl.training.train import (
    ALGORITHMS,
    OFF_POLICY,
    TrainConfig,
    TrainingInterrupted,
    agents_dir,
    algorithm_class,
    algorithm_kwargs,
    latest_checkpoint,
    parse_hyperparams,
    read_config,
    resolve,
    resume,
    segment_steps,
    train,
)

ROOT = Path(__file__).resolve().parents[2]
CHEAP = {"simulator": {"model": "SPM", "thermal": "isothermal", "degradation": False}}
TINY: dict[str, dict[str, Any]] = {  # a few updates within 64 steps, 8-unit networks
    "ppo": {"n_steps": 32, "batch_size": 32, "n_epochs": 2},
    "recurrentppo": {"n_steps": 32, "batch_size": 32, "n_epochs": 2, "policy_kwargs": {"lstm_hidden_size": 8}},
    "a2c": {"n_steps": 8},
    "sac": {"learning_starts": 16, "batch_size": 16, "buffer_size": 1000},
    "td3": {"learning_starts": 16, "batch_size": 16, "buffer_size": 1000},
    "ddpg": {"learning_starts": 16, "batch_size": 16, "buffer_size": 1000},
    "tqc": {"learning_starts": 16, "batch_size": 16, "buffer_size": 1000},
}


def tiny_config(algo: str, n_timesteps: int = 64, **changes: Any) -> TrainConfig:
    """A run of a few updates on the cheap env: one env, no JIT, no progress bar, no final CC-CV report."""
    hyperparams = {**TINY[algo], "policy_kwargs": {"net_arch": [8], **TINY[algo].get("policy_kwargs", {})}}
    defaults: dict[str, Any] = {
        "algo": algo,
        "n_timesteps": n_timesteps,
        "n_envs": 1,
        "hyperparams": hyperparams,
        "compile": False,
        "env_overrides": CHEAP,
        "eval_freq": 10_000,
        "checkpoint_freq": 10_000,
        "final_eval_episodes": 0,
        "progress_bar": False,
    }
    return TrainConfig(**{**defaults, **changes})


def parameters(model: Any) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.policy.state_dict().items()}


# ------------------------------------------------------------------------------------------------ configuration
@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_every_hyperparameter_file_resolves_for_fastcharge_and_default(algo: str) -> None:
    data = yaml.safe_load((agents_dir() / f"{algo}.yml").read_text())
    assert {"eomctl/FastCharge-v0", "default"} <= set(data)
    for env_id in ("eomctl/FastCharge-v0", "eomctl/ColdCharge-v0"):  # ColdCharge falls back to `default`
        config = resolve(TrainConfig(algo=algo, env_id=env_id))
        assert config.n_timesteps is not None and config.n_timesteps > 0 and config.n_envs is not None
        kwargs = algorithm_kwargs(config, n_actions=1)  # every key is a constructor argument
        assert "n_timesteps" not in kwargs and "normalize" not in kwargs


def test_explicit_values_and_overrides_win_over_the_file() -> None:
    config = resolve(
        TrainConfig(algo="ppo", n_timesteps=77, hyperparams={"n_envs": 3, "policy_kwargs": {"net_arch": [4]}})
    )
    assert config.n_timesteps == 77 and config.n_envs == 3
    assert config.hyperparams["policy_kwargs"] == {"net_arch": [4], "log_std_init": -0.5}  # merged key by key


def test_parse_hyperparams_reads_yaml_and_never_evaluates() -> None:
    parsed = parse_hyperparams(["learning_rate=1e-3", "policy_kwargs={net_arch: [8, 8], activation_fn: relu}"])
    assert parsed == {"learning_rate": 1e-3, "policy_kwargs": {"net_arch": [8, 8], "activation_fn": "relu"}}
    assert parse_hyperparams(["policy_kwargs.net_arch=[4]", "gamma=0.9"]) == {
        "policy_kwargs": {"net_arch": [4]},
        "gamma": 0.9,
    }
    kwargs = algorithm_kwargs(resolve(TrainConfig(hyperparams=parsed)), 1)
    assert kwargs["policy_kwargs"]["activation_fn"] is torch.nn.ReLU
    with pytest.raises(ConfigError, match="key=value"):
        parse_hyperparams(["gamma"])
    expression = parse_hyperparams(["policy_kwargs=dict(net_arch=__import__('os').getcwd())"])
    with pytest.raises(ConfigError, match="not evaluated"):
        algorithm_kwargs(resolve(TrainConfig(hyperparams=expression)), 1)


def test_unknown_algorithm_and_hyperparameter_are_named() -> None:
    with pytest.raises(ConfigError, match="unknown algorithm 'dqn'"):
        algorithm_class("dqn")
    with pytest.raises(ConfigError, match=r"unknown hyperparameter\(s\) \['n_stepz'\]"):
        resolve(TrainConfig(hyperparams={"n_stepz": 8}))
    with pytest.raises(ConfigError, match="unknown env 'eomctl/NoSuch-v0'"):
        resolve(TrainConfig(env_id="eomctl/NoSuch-v0"))
    with pytest.raises(ConfigError, match="simulator"):
        resolve(TrainConfig(env_overrides={"simulator": {"model": "XYZ"}}))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_envs": 0}, "n_envs must be a positive number; got 0"),  # was silently the YAML's 2
        ({"eval_freq": 0}, "eval_freq must be a positive number; got 0"),  # was a hang
        ({"checkpoint_freq": -5}, "checkpoint_freq must be a positive number"),
        ({"final_eval_episodes": -1}, "final_eval_episodes must be >= 0"),
        ({"hyperparams": {"learning_rate": "abc"}}, "learning_rate must be a number; got 'abc'"),
        ({"hyperparams": {"learning_rate": "lin_abc"}}, "learning_rate must be a number"),
        ({"hyperparams": {"batch_size": [64]}}, "batch_size must be a number"),
    ],
)
def test_impossible_settings_are_refused_before_a_run_folder_exists(
    changes: dict[str, Any], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        train(dataclasses.replace(TrainConfig(), **changes), out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_schedules_and_numbers_that_are_fine_pass() -> None:
    resolved = resolve(TrainConfig(hyperparams={"learning_rate": "lin_3e-4", "clip_range": 0.2, "n_steps": 64}))
    assert resolved.hyperparams["learning_rate"] == "lin_3e-4"


def test_schedules_and_action_noise() -> None:
    kwargs = algorithm_kwargs(resolve(TrainConfig(algo="td3", hyperparams={"learning_rate": "lin_1e-3"})), 1)
    assert kwargs["learning_rate"](1.0) == pytest.approx(1e-3) and kwargs["learning_rate"](0.0) == pytest.approx(0)
    assert kwargs["action_noise"]().shape == (1,)


# ------------------------------------------------------------------------------------------------ training
@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_every_algorithm_trains_and_saves(algo: str, tmp_path: Path) -> None:
    result = train(tiny_config(algo, checkpoint_freq=32), out=tmp_path / algo)
    run = result.run_dir
    assert result.num_timesteps >= 64
    for name in ("model.zip", "vecnormalize.pkl", "config.yaml", "metadata.json"):
        assert (run / name).is_file(), name
    steps, paths = latest_checkpoint(run, read_config(run)) or (0, {})
    assert steps == result.num_timesteps and paths["vecnormalize"].is_file()
    assert paths["replay_buffer"].is_file() == (algo in OFF_POLICY)
    assert (run / "logs" / "session_0" / "progress.csv").is_file()
    loaded = algorithm_class(algo).load(run / "model.zip", device="cpu")
    assert loaded.num_timesteps == result.num_timesteps


def test_episode_scalars_reach_the_log(tmp_path: Path) -> None:
    """PPO's log after 128 steps holds the per-episode physics from the env's info (an episode is ~25 steps)."""
    run = train(tiny_config("ppo", n_timesteps=128), out=tmp_path / "run").run_dir
    header = (run / "logs" / "session_0" / "progress.csv").read_text().splitlines()[0].split(",")
    for name in ("episode/entropy_j_per_k", "episode/charge_time_s", "episode/violations", "episode/reached_target"):
        assert name in header
    monitor = (run / "monitor" / "0.monitor.csv").read_text().splitlines()
    assert "entropy_j_per_k" in monitor[1] and len(monitor) > 2
    # The same scalars in the TensorBoard event file (tensorboard is a dependency).
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = list((run / "logs" / "session_0").glob("events.out.tfevents.*"))
    assert events, "no TensorBoard event file"
    accumulator = EventAccumulator(str(events[0]))
    accumulator.Reload()
    assert {"episode/entropy_j_per_k", "episode/charge_time_s"} <= set(accumulator.Tags()["scalars"])


def test_same_seed_reproduces_the_first_updates(tmp_path: Path) -> None:
    torch.use_deterministic_algorithms(True)
    try:
        models = [
            algorithm_class("ppo").load(train(tiny_config("ppo", seed=s), out=tmp_path / name).run_dir / "model.zip")
            for name, s in (("a", 5), ("b", 5), ("c", 6))
        ]
    finally:
        torch.use_deterministic_algorithms(False)
    first, second, other = (parameters(m) for m in models)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    assert any(not np.array_equal(first[k], other[k]) for k in first)


def test_solver_failures_end_episodes_not_the_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Integrator calls 40-47, 80-87, ... raise as CVODES does (``CellSimulator._integrate``'s contract; a run of
    them, since a limit search survives a single failed trial current): the env flags a solver failure and ends the
    episode, and training still runs to its budget."""
    from eomctl.cell.simulator import CellSimulator

    calls = {"n": 0}

    def flaky(original: Any) -> Any:
        def call(self: CellSimulator, *args: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] % 40 < 8 and calls["n"] >= 40:
                raise RuntimeError("CVODES: the corrector convergence test failed repeatedly")
            return original(self, *args, **kwargs)

        return call

    for name in ("_integrate", "_integrate_controlled"):  # constant-current and limit-controller calls
        monkeypatch.setattr(CellSimulator, name, flaky(getattr(CellSimulator, name)))
    result = train(tiny_config("ppo", n_timesteps=128), out=tmp_path / "run")
    assert result.num_timesteps >= 128 and calls["n"] >= 80
    episodes = (result.run_dir / "monitor" / "0.monitor.csv").read_text().splitlines()[2:]
    assert len(episodes) >= 2  # failures cut episodes short (a full one is ~25 steps here)


def test_run_folder_refuses_to_be_overwritten(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("algo: ppo\n")
    with pytest.raises(ConfigError, match="already holds a run"):
        train(tiny_config("ppo"), out=tmp_path)


class InterruptAt(BaseCallback):
    """Raise KeyboardInterrupt (as Ctrl-C would) once ``steps`` env steps are done."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.steps:
            raise KeyboardInterrupt
        return True


@pytest.mark.parametrize(
    ("algo", "n_envs", "vec_env"),
    [("ppo", 1, "auto"), ("sac", 1, "auto"), ("ppo", 2, "subproc"), ("ppo", 2, "batched")],
)
def test_interrupted_and_resumed_run_equals_the_uninterrupted_run(
    algo: str, n_envs: int, vec_env: str, tmp_path: Path
) -> None:
    config = tiny_config(algo, n_timesteps=128, checkpoint_freq=32, n_envs=n_envs, vec_env=vec_env)
    whole = train(config, out=tmp_path / "whole")
    run = tmp_path / "run"
    with pytest.raises(TrainingInterrupted, match=r"interrupted at 72 steps \(checkpoint at 64 steps kept\)"):
        train(config, out=run, callbacks=[InterruptAt(72)])
    assert not (run / "model.zip").exists()
    steps, _ = latest_checkpoint(run, read_config(run)) or (0, {})
    assert steps == 64  # the last segment boundary: the state at 72 steps is not one a resume could repeat
    result = resume(run)
    assert result.num_timesteps == whole.num_timesteps == 128
    cls = algorithm_class(algo)
    expected, got = (parameters(cls.load(folder / "model.zip", device="cpu")) for folder in (whole.run_dir, run))
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)  # bit for bit
    stats = [pickle.loads((folder / "vecnormalize.pkl").read_bytes()) for folder in (whole.run_dir, run)]
    np.testing.assert_array_equal(stats[1].obs_rms.mean, stats[0].obs_rms.mean)
    np.testing.assert_array_equal(stats[1].ret_rms.var, stats[0].ret_rms.var)
    sessions = json.loads((run / "metadata.json").read_text())["sessions"]
    assert [s["start_timesteps"] for s in sessions] == [0, 64] and sessions[1]["end_timesteps"] == 128
    with pytest.raises(ConfigError, match="already reached"):
        resume(run)
    longer = resume(run, n_timesteps=160)  # a finished run continues for longer when asked
    assert longer.num_timesteps >= 160 and read_config(run).n_timesteps == 160


def test_a_resumed_run_keeps_one_learning_curve(tmp_path: Path) -> None:
    """The evaluations of the session before the checkpoint stay in evaluations.npz (SB3 rewrites it per session);
    those after the checkpoint, which the resumed session repeats, are not doubled."""
    config = tiny_config("ppo", n_timesteps=128, checkpoint_freq=64, eval_freq=32)
    whole = train(config, out=tmp_path / "whole")
    run = tmp_path / "run"
    with pytest.raises(TrainingInterrupted):
        train(config, out=run, callbacks=[InterruptAt(100)])  # evaluated at 32, 64 and 96; checkpoint at 64
    resume(run)
    curves = [np.load(folder / "eval" / "evaluations.npz") for folder in (whole.run_dir, run)]
    assert list(curves[1]["timesteps"]) == list(curves[0]["timesteps"]) == [32, 64, 96, 128]
    np.testing.assert_array_equal(curves[1]["results"], curves[0]["results"])


def test_a_run_stopped_before_its_first_checkpoint_starts_again(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    write_config(run, resolve(tiny_config("ppo")))  # as left by a Ctrl-C during the JIT build
    with pytest.raises(ConfigError, match="already holds a run; continue it with --resume"):
        train(tiny_config("ppo"), out=run)
    assert resume(run).num_timesteps == 64


def test_checkpoints_fall_between_updates() -> None:
    assert segment_steps(tiny_config("ppo", checkpoint_freq=40)) == 64  # n_steps 32, one env: whole rollouts
    assert segment_steps(tiny_config("ppo", checkpoint_freq=40, n_envs=2)) == 64
    assert segment_steps(tiny_config("sac", checkpoint_freq=40)) == 40


def test_cli_writes_the_run_folder_metadata(tmp_path: Path) -> None:
    out = tmp_path / "run"
    command = [sys.executable, str(ROOT / "scripts" / "train_agent.py"), "--algo", "ppo", "--timesteps", "64"]
    command += ["--no-compile", "--out", str(out), "--n-envs", "1", "--final-eval-episodes", "0", "--no-progress-bar"]
    command += ["--hyperparams", "n_steps=32", "batch_size=32", "policy_kwargs={net_arch: [8]}"]
    command += ["--env-overrides", "simulator.model=SPM", "simulator.thermal=isothermal", "simulator.degradation=false"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    config = read_config(out)
    assert config.env_id == "eomctl/FastCharge-v0" and config.n_timesteps == 64 and not config.compile
    assert config.hyperparams["policy_kwargs"] == {"net_arch": [8], "log_std_init": -0.5}
    assert config.env_overrides == CHEAP
    session = json.loads((out / "metadata.json").read_text())["sessions"][0]
    assert "--timesteps 64" in session["command"] and session["end_timesteps"] >= 64
    assert {"eomctl", "pybamm", "casadi", "torch", "stable-baselines3", "gymnasium", "numpy"} <= set(
        session["versions"]
    )
    assert "git_revision" in session and (out / "model.zip").is_file() and (out / "vecnormalize.pkl").is_file()


def test_batched_envs_train_to_the_weights_of_separate_envs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three envs whose limited steps run in one compiled call (``vec_env="batched"``) train PPO to exactly the weights
    of three separately built envs stepped one after another (``"dummy"``)."""
    from eomctl.cell.batch import BatchStepper

    batched_steps, prefetch = [0], BatchStepper.prefetch

    def counted(self: BatchStepper, *args: Any, **kwargs: Any) -> int:
        done = prefetch(self, *args, **kwargs)
        batched_steps[0] += done
        return done

    monkeypatch.setattr(BatchStepper, "prefetch", counted)
    weights = []
    for vec_env in ("batched", "dummy"):
        result = train(tiny_config("ppo", n_envs=3, n_timesteps=96, vec_env=vec_env), out=tmp_path / vec_env)
        weights.append(parameters(algorithm_class("ppo").load(result.run_dir / "model.zip", device="cpu")))
    for key in weights[1]:
        np.testing.assert_array_equal(weights[0][key], weights[1][key], err_msg=key)
    assert batched_steps[0] >= 0.8 * 96  # almost every env step ran in a batch (not those right after a reset)
