"""Training throughput on the real environment, and the wall time of the default run.

Part 1 (default): PPO with the default scenario's hyperparameters (agents/ppo.yml) for ``--steps`` env steps with 1 and
2 JIT-compiled envs; prints learning steps per second (env building, compilation and evaluation excluded, as recorded
in each run's metadata) and the wall time of the whole call.

Part 2 (``--default-run``): times the default training command end to end in a subprocess, as README's ``make run``
runs it (budget: 15 minutes on a 2-core machine).

The script ``benchmarks/bench_train.py`` prints both (``--steps 2048`` / ``--default-run``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eomctl.training.hyperparams import TrainConfig
from eomctl.training.train import train


def learning_rate(n_envs: int, steps: int, out: Path) -> dict[str, float]:
    """Train PPO for ``steps`` env steps with ``n_envs`` envs; steps/s of learning and the call's wall time."""
    config = TrainConfig(
        algo="ppo",
        n_timesteps=steps,
        n_envs=n_envs,
        eval_freq=10**9,  # no periodic evaluation: learning only
        checkpoint_freq=10**9,
        final_eval_episodes=0,
        progress_bar=False,
    )
    started = time.perf_counter()
    result = train(config, out=out)
    return {
        "n_envs": n_envs,
        "steps": result.num_timesteps,
        "learning_steps_per_s": float(result.steps_per_s or 0.0),
        "call_wall_s": time.perf_counter() - started,
    }


def default_run(out: Path | None = None) -> dict[str, float]:
    """Wall time of the default training command, ``eomctl train --algo ppo`` (what ``scripts/train_agent.py --algo
    ppo`` runs: builds, learning, final evaluation, plots), in a fresh interpreter.

    The run folder is ``out`` when given (kept), else a temporary folder.
    """
    with tempfile.TemporaryDirectory() as folder:
        run = out if out is not None else Path(folder) / "run"
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "eomctl.cli.main", "train", "--algo", "ppo", "--out", str(run)], check=True
        )
        wall_s = time.perf_counter() - started
        metadata = json.loads((run / "metadata.json").read_text(encoding="utf-8"))
    session = metadata["sessions"][-1]
    return {
        "wall_s": wall_s,
        "learning_s": session["wall_s"],
        "steps": session["end_timesteps"],
        "steps_per_s": session["steps_per_s"],
    }
