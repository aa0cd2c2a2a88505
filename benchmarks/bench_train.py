"""Training throughput (learning steps/s of PPO on the real env, 1 and 2 envs) or, with ``--default-run``, the wall
time of the default training command; the measurements are :mod:`eomctl.bench.train`. Run::

    python benchmarks/bench_train.py [--steps 2048] | [--default-run [--out FOLDER]]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from eomctl.bench.train import default_run, learning_rate


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
