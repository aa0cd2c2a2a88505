"""Roll out a trained agent or a baseline charger step by step and write the trace, one CSV row per step.

An agent is a run folder (its ``model.zip`` and ``vecnormalize.pkl``), a model ``.zip`` (the VecNormalize statistics
saved beside it are found by name), or a baseline spec of :func:`eomctl.policies.specs.parse_policy`
(``cccv:rate=1C,vmax=4.2,cutoff=C/20``). Episodes run through the one loop of :mod:`eomctl.policies.episode`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym

from eomctl.core.errors import ConfigError
from eomctl.core.io import write_csv
from eomctl.policies.episode import drive, start_episode
from eomctl.policies.protocol import Policy
from eomctl.policies.specs import parse_policy
from eomctl.policies.trained import run_environment

COLUMNS = (
    "episode",
    "step",
    "time_s",
    "action",
    "current_a",
    "voltage_v",
    "temperature_k",
    "soc",
    "entropy_rate_w_per_k",
    "entropy_j_per_k",
    "reward",
)
STEP_MEANS = ("current_a", "entropy_rate_w_per_k")  # per-step means; the other columns are states at step ends
FINAL_EVAL_SEED = 1_000_000  # held out: training envs use seed + rank, periodic evaluation seed + 10 000


def run_episode(policy: Policy, env: Any, seed: int, episode: int = 0) -> list[dict[str, Any]]:
    """One episode; one row per env step: :data:`COLUMNS` plus ``success``, ``lli_pct`` and ``violations``.

    Row ``k`` is the state at the end of step ``k`` (from 1), the action taken during it and its reward. The episode
    ends when the env ends it or the policy says it is done (a CC-CV at its cut-off current).
    """
    bound, observation, _ = start_episode(policy, env, seed)
    rows: list[dict[str, Any]] = []
    for step in drive(bound, observation, env.step):
        info = step.info
        row = {"episode": episode, "step": len(rows) + 1, "action": step.action}
        row.update({k: float(info[k]) for k in (*COLUMNS[4:-1], "time_s", "lli_pct")})
        row.update(reward=step.reward, success=bool(info["success"]), violations=int(info["violation_count"]))
        rows.append(row)
    return rows


def make_env(env_id: str, overrides: Mapping[str, Any] | None = None) -> Any:
    """A Gymnasium env by id (``eomctl/FastCharge-v0``), with scenario overrides; :class:`ConfigError` for an unknown
    id, naming the registered eomctl ids."""
    try:
        gym.spec(env_id)
    except gym.error.Error:
        known = sorted(k for k in gym.registry if k.startswith("eomctl/"))
        raise ConfigError(f"unknown env '{env_id}'; eomctl's are {known}") from None
    return gym.make(env_id, overrides=dict(overrides)) if overrides else gym.make(env_id)


def rollout(
    agent: str | Path,
    env_id: str | None = None,
    episodes: int = 1,
    seed: int = 0,
    out: str | Path = "rollout.csv",
    overrides: Mapping[str, Any] | None = None,
    best: bool = False,
) -> list[dict[str, Any]]:
    """Run ``episodes`` episodes (seeds ``seed + i``) of an agent and write one CSV row per step.

    Parameters
    ----------
    agent : str or Path
        Run folder, model ``.zip`` or baseline spec.
    env_id : str, optional
        Env id; default the run folder's env, else ``eomctl/FastCharge-v0``.
    episodes, seed : int
        Number of episodes and the seed of the first.
    out : str or Path
        CSV with exactly :data:`COLUMNS`.
    overrides : mapping, optional
        Scenario overrides (a run folder's own ``env_overrides`` are applied first when its env is used).
    best : bool
        For a run folder: its best evaluated model instead of the final one.

    Returns
    -------
    list of dict
        One row per step of every episode (:data:`COLUMNS` and more); see :func:`run_episode`.
    """
    if episodes < 1:
        raise ConfigError(f"episodes must be at least 1; got {episodes}")
    run_env, run_overrides = run_environment(Path(agent))
    env_id = env_id or run_env or "eomctl/FastCharge-v0"
    merged = {**(run_overrides if env_id == run_env else {}), **(overrides or {})}
    policy, env = parse_policy(str(agent), best=best), make_env(env_id, merged)
    try:
        rows = [row for i in range(episodes) for row in run_episode(policy, env, seed + i, episode=i)]
    finally:
        env.close()
    write_csv(out, {name: [row[name] for row in rows] for name in COLUMNS})
    return rows


def by_episode(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Rollout rows grouped as ``{"episode i": rows}`` (the traces a plot draws, one line per episode)."""
    traces: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        traces.setdefault(f"episode {row['episode']}", []).append(row)
    return traces
