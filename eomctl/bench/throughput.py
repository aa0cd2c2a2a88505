"""Throughput of the paths that keep charging limits: the in-model limit controller against the constant-current search.

Every ratio is new path over earlier path, both measured in the same run on this machine (``limit_control`` of
:class:`~eomctl.cell.simulator.SimulatorConfig`; the earlier path also has ``few_calls=False`` where lifetime cycling
is concerned, the engine as it was before its throughput work):

1. **Env steps** under random actions (uniform in [-1, 1], as a fresh PPO policy explores) on a scenario with
   enforced limits: env steps per second and integrator calls per env step, single env; and env steps per second of
   a batched vector env (:class:`~eomctl.charging.vector.BatchedSyncVectorEnv`, one compiled call per vector step on
   every core) of N cells, against the single env on the controller path.
2. **Learning**: steps per second of learning of an SB3 algorithm with the scenario's hyperparameters (``agents/``),
   periodic and final evaluation off, env building and JIT compilation excluded (as recorded in each run's metadata):
   today's default (controller; ``vec_env="auto"``) against the earlier one (search; several envs as SubprocVecEnv
   workers).
3. **Policy-driven lifetime cycles**: a trained policy (or any policy spec) charges, 1C discharge, rests: cycles per
   second of the cycling engine.

The CC-CV cycling comparison with PyBaMM's own Experiment cycling is :mod:`eomctl.bench.lifetime`. Run::

    python benchmarks/bench_throughput.py [--scenario ColdCharge] [--steps 300] [--learn ppo sac] [--cycles 3]
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eomctl.cell.simulator import CellSimulator, LimitControl
from eomctl.charging.env import ChargingEnv
from eomctl.lifetime.engine import LifetimeConfig, build_simulator, run_lifetime

PATHS: tuple[LimitControl, ...] = ("controller", "search")
#: Learning: today's default (controller, vec_env "auto": SubprocVecEnv up to twice the cores, batched above) against
#: the earlier one (search, SubprocVecEnv workers); one env runs in-process either way.
LEARNING_PATHS: tuple[tuple[LimitControl, str], ...] = (("controller", "auto"), ("search", "subproc"))


def _overrides(path: LimitControl, compile_c: bool | None) -> dict[str, Any]:
    return {"simulator": {"limit_control": path, "compile": compile_c}}


def env_steps(scenario: str, path: LimitControl, steps: int, seed: int = 0, compile_c: bool | None = None) -> dict:
    """Env steps per second and integrator calls per step of one env under uniform random actions."""
    env = ChargingEnv(scenario, overrides=_overrides(path, compile_c))
    sim = env.sim
    calls = {"n": 0}
    for name in ("_integrate", "_integrate_controlled"):
        original = getattr(sim, name)

        def counted(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            calls["n"] += 1
            return _original(*args, **kwargs)

        setattr(sim, name, counted)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    env.step(env.action_space.sample())  # warm-up (first calls of the compiled functions): not timed
    env.reset(seed=seed)
    calls["n"], done, episodes, failures = 0, 0, 1, 0
    started = time.perf_counter()
    while done < steps:
        _, _, terminated, truncated, info = env.step(rng.uniform(-1.0, 1.0, size=1).astype(np.float32))
        done += 1
        failures += bool(info.get("solver_failure"))
        if terminated or truncated:
            env.reset()
            episodes += 1
    wall_s = time.perf_counter() - started
    env.close()
    return {
        "path": path,
        "steps": done,
        "episodes": episodes,
        "failures": failures,
        "steps_per_s": done / wall_s,
        "calls_per_step": calls["n"] / done,
    }


def batched_env_steps(scenario: str, n_envs: int, steps: int, threads: int | None = None, seed: int = 0) -> dict:
    """Env steps per second of a :class:`~eomctl.charging.vector.BatchedSyncVectorEnv` of ``n_envs`` cells under
    uniform random actions (``steps`` vector steps; a vector step is ``n_envs`` env steps)."""
    from eomctl.charging.vector import BatchedSyncVectorEnv, default_threads

    envs = BatchedSyncVectorEnv(f"eomctl/{scenario}-v0", n_envs, threads=threads)
    rng = np.random.default_rng(seed)
    envs.reset(seed=seed)
    envs.step(rng.uniform(-1.0, 1.0, size=(n_envs, 1)).astype(np.float32))  # controller build: not timed
    started = time.perf_counter()
    for _ in range(steps):
        envs.step(rng.uniform(-1.0, 1.0, size=(n_envs, 1)).astype(np.float32))
    wall_s = time.perf_counter() - started
    envs.close()
    return {
        "n_envs": n_envs,
        "threads": threads or default_threads(),
        "env_steps": steps * n_envs,
        "steps_per_s": steps * n_envs / wall_s,
    }


def learning(
    algo: str, scenario: str, path: LimitControl, steps: int, vec_env: str = "auto", n_envs: int | None = None
) -> dict:
    """Learning steps per second of ``algo`` with the scenario's hyperparameters (no evaluation); ``vec_env`` as
    ``eomctl train --vec-env`` (the earlier default ran several envs as SubprocVecEnv workers)."""
    from eomctl.training.hyperparams import TrainConfig
    from eomctl.training.train import train

    options: dict[str, Any] = {"n_envs": n_envs} if n_envs else {}
    config = TrainConfig(
        algo=algo,
        env_id=f"eomctl/{scenario}-v0",
        n_timesteps=steps,
        eval_freq=10**9,
        checkpoint_freq=10**9,
        final_eval_episodes=0,
        progress_bar=False,
        env_overrides={"simulator": {"limit_control": path}},
        vec_env=vec_env,
        **options,
    )
    with tempfile.TemporaryDirectory() as folder:
        result = train(config, out=Path(folder) / "run")
    return {
        "path": path,
        "vec_env": vec_env,
        "algo": algo,
        "steps": result.num_timesteps,
        "steps_per_s": float(result.steps_per_s or 0.0),
    }


def policy_cycles(policy: str, scenario: str, path: LimitControl, cycles: int) -> dict:
    """Cycles per second of policy-driven cycling (charge by ``policy``, 1C discharge, rests; no RPT)."""
    config = LifetimeConfig(policy=policy, scenario=scenario, max_cycles=cycles, rpt=False)
    sim = build_simulator(config)
    if path == "search":
        sim = CellSimulator(sim.cell, dataclasses.replace(sim.config, limit_control="search", few_calls=False))
    result = run_lifetime(config, simulator=sim)
    wall_s = result.extra["cycling_s"]  # builds (the limit controller's JIT) excluded
    last = result.rows[-1]
    return {
        "path": path,
        "cycles": len(result.rows),
        "cycles_per_s": len(result.rows) / wall_s,
        "lli_pct": last["lli_pct"],
        "charge_time_s": last.get("charge_time_s"),
    }


def measure(
    scenario: str,
    steps: int,
    learn: Sequence[str],
    learn_steps: int,
    policy: str | None,
    cycles: int,
    batch: Sequence[int] = (),
) -> dict[str, Any]:
    """Every part, new path and earlier path side by side; ``ratio`` entries are new over earlier."""
    out: dict[str, Any] = {"scenario": scenario}
    env_rows = [env_steps(scenario, path, steps) for path in PATHS]
    out["env_steps"] = env_rows
    out["env_steps_ratio"] = env_rows[0]["steps_per_s"] / env_rows[1]["steps_per_s"]
    if batch:
        rows = [batched_env_steps(scenario, n, max(steps // n, 8)) for n in batch]
        out["batched_env_steps"] = rows
        # against the single env on the same (controller) path
        out["batched_over_single"] = {row["n_envs"]: row["steps_per_s"] / env_rows[0]["steps_per_s"] for row in rows}
    for algo in learn:
        rows = [learning(algo, scenario, path, learn_steps, vec_env) for path, vec_env in LEARNING_PATHS]
        out[f"learning_{algo}"] = rows
        out[f"learning_{algo}_ratio"] = rows[0]["steps_per_s"] / rows[1]["steps_per_s"]
    if policy and cycles:
        rows = [policy_cycles(policy, scenario, path, cycles) for path in PATHS]
        out["policy_cycles"] = rows
        out["policy_cycles_ratio"] = rows[0]["cycles_per_s"] / rows[1]["cycles_per_s"]
    return out
