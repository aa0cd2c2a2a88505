"""Training throughput on the real environment, and the wall time of the default run.

Part 1 (default): PPO with the default scenario's hyperparameters (agents/ppo.yml) for ``--steps`` env steps with 1 and
2 JIT-compiled envs; prints learning steps per second (env building, compilation and evaluation excluded, as recorded
in each run's metadata) and the wall time of the whole call.

Part 2 (``--default-run``): times ``python scripts/train_agent.py --algo ppo`` end to end in a subprocess, exactly as
README's ``make run`` does (the issue's budget is 15 minutes on a 2-core machine).

Usage: ``python benchmarks/bench_train.py --steps 2048`` / ``python benchmarks/bench_train.py --default-run``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eomctl.training.hyperparams import TrainConfig
from eomctl.training.train import train

ROOT = Path(__file__).resolve().parents[1]


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
    """Wall time of ``scripts/train_agent.py --algo ppo`` (builds, learning, final evaluation, plots).

    The run folder is ``out`` when given (kept), else a temporary folder.
    """
    with tempfile.TemporaryDirectory() as folder:
        run = out if out is not None else Path(folder) / "run"
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "train_agent.py"), "--algo", "ppo", "--out", str(run)],
            check=True,
            cwd=ROOT,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2048, help="env steps per measurement")
    parser.add_argument("--default-run", action="store_true", help="time the default training command instead")
    parser.add_argument("--out", type=Path, default=None, help="keep the default run's folder here")
    args = parser.parse_args()
    if args.default_run:
        r = default_run(args.out)
        print(
            f"default run: {r['wall_s']:.0f} s wall ({r['wall_s'] / 60:.1f} min), learning {r['learning_s']:.0f} s "
            f"for {r['steps']:.0f} steps = {r['steps_per_s']:.1f} steps/s"
        )
        return
    with tempfile.TemporaryDirectory() as folder:
        for n_envs in (1, 2):
            r = learning_rate(n_envs, args.steps, Path(folder) / f"n{n_envs}")
            print(
                f"PPO, FastCharge, {r['n_envs']} env(s): {r['learning_steps_per_s']:.1f} learning steps/s "
                f"({r['steps']:.0f} steps; whole call {r['call_wall_s']:.0f} s incl. JIT builds)"
            )


if __name__ == "__main__":
    main()
