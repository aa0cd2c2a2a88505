"""Limit controller against the constant-current limit search, side by side in one run: env steps under random
actions, learning steps per second of SB3 algorithms, policy-driven lifetime cycles. The measurement is
:mod:`eomctl.bench.throughput`; the CC-CV cycling comparison with PyBaMM is ``benchmarks/bench_lifetime.py``. Run::

    python benchmarks/bench_throughput.py [--scenario ColdCharge] [--steps 300] [--batch 16] [--learn ppo sac]
        [--learn-steps 2048]
        [--policy agents/ppo_FastCharge-v0.zip] [--cycles 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from eomctl.bench.throughput import measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="ColdCharge")
    parser.add_argument("--steps", type=int, default=300, help="timed env steps per path")
    parser.add_argument("--batch", type=int, nargs="*", default=[16], help="cells of the batched vector env")
    parser.add_argument("--learn", nargs="*", default=["ppo", "sac"], help="SB3 algorithms to time learning of")
    parser.add_argument("--learn-steps", type=int, default=2048)
    parser.add_argument("--policy", default=None, help="policy for the lifetime cycles (default: none)")
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()
    out = measure(args.scenario, args.steps, args.learn, args.learn_steps, args.policy, args.cycles, args.batch)
    out["cpu_count"] = os.cpu_count()
    print(f"{args.scenario}, {os.cpu_count()} CPU cores; ratio = limit controller / constant-current search")
    rows = out["env_steps"]
    print("\nenv steps, random actions:")
    for row in rows:
        print(f"  {row['path']:<11}{row['steps_per_s']:8.1f} steps/s {row['calls_per_step']:6.2f} calls/step")
    print(f"  ratio {out['env_steps_ratio']:.2f}x")
    for row in out.get("batched_env_steps", []):
        ratio = out["batched_over_single"][row["n_envs"]]
        print(f"  batched x{row['n_envs']} ({row['threads']} threads): {row['steps_per_s']:.1f} steps/s, ", end="")
        print(f"{ratio:.2f}x the single env")
    for algo in args.learn:
        print(f"\nlearning, {algo}:")
        for row in out[f"learning_{algo}"]:
            label = f"{row['path']} + {row['vec_env']}"
            print(f"  {label:<22}{row['steps_per_s']:8.1f} steps/s ({row['steps']} steps)")
        print(f"  ratio {out[f'learning_{algo}_ratio']:.2f}x")
    if "policy_cycles" in out:
        print(f"\npolicy-driven cycles, {args.policy}:")
        for row in out["policy_cycles"]:
            print(f"  {row['path']:<11}{row['cycles_per_s']:8.3f} cycles/s, LLI {row['lli_pct']:.4f} %")
        print(f"  ratio {out['policy_cycles_ratio']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
