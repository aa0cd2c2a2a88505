"""Roll out a trained agent or a baseline charger step by step, write the trace, and report a run against CC-CV.

An agent is a run folder (its ``model.zip`` and ``vecnormalize.pkl``), a model ``.zip`` (the VecNormalize statistics
saved beside it are found by name), or a baseline spec of :func:`eomctl.protocols.parse_policy`
(``cccv:rate=1C,vmax=4.2,cutoff=C/20``). Every policy answers SB3's ``predict`` and is bound to the env and its limits
before an episode, as in :func:`eomctl.evaluation.rollout`.
"""

from __future__ import annotations

import argparse
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eomctl.errors import ConfigError
from eomctl.io import write_csv, write_json
from eomctl.protocols import TrainedPolicy

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
PLOTTED = (
    ("current_a", "current [A]"),
    ("voltage_v", "voltage [V]"),
    ("temperature_k", "temperature [K]"),
    ("soc", "SOC [-]"),
    ("entropy_rate_w_per_k", "entropy rate [W/K]"),
)


@dataclass(frozen=True)
class NormalizedPolicy(TrainedPolicy):
    """A trained model that normalises each observation with the VecNormalize statistics it was trained with."""

    obs_stats: Any = field(default=None, repr=False, compare=False)

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """The model's action for the normalised observation (float32, shape (1,)) and its recurrent state."""
        obs = np.asarray(observation, dtype=np.float32)
        if self.obs_stats is not None:
            obs = self.obs_stats.normalize_obs(obs).astype(np.float32)
        return super().predict(obs, state, episode_start, deterministic)


def _stats_beside(model_path: Path) -> Path | None:
    """The VecNormalize file saved with a model.

    ``<name>_vecnormalize.pkl`` (a shipped policy, e.g. ``agents/ppo_FastCharge-v0.zip``), a checkpoint's
    ``rl_model_vecnormalize_<N>_steps.pkl``, ``best_vecnormalize.pkl`` for ``best_model.zip``, else the run folder's
    ``vecnormalize.pkl``.
    """
    name = model_path.name
    own = model_path.with_name(f"{model_path.stem}_vecnormalize.pkl")
    if own.is_file():
        return own
    if name.startswith("rl_model_") and name.endswith("_steps.zip"):
        candidate = model_path.with_name(name.replace("rl_model_", "rl_model_vecnormalize_").replace(".zip", ".pkl"))
    elif name == "best_model.zip":
        candidate = model_path.with_name("best_vecnormalize.pkl")
    else:
        candidate = model_path.with_name("vecnormalize.pkl")
    return candidate if candidate.is_file() else None


def _shipped(path: Path) -> Path:
    """``agents/<file>`` of a source checkout, or the same file packed into an installed wheel (``agents_data``)."""
    if path.exists() or not path.parts or path.parts[0] != "agents":
        return path
    from eomctl.hyperparams import agents_dir

    packed = agents_dir().joinpath(*path.parts[1:])
    return packed if packed.exists() else path


def load_agent(spec: str | Path, best: bool = False) -> Any:
    """A policy from a run folder, a model ``.zip`` or a baseline spec (see the module docstring).

    Parameters
    ----------
    spec : str or Path
        Run folder, model file or baseline spec.
    best : bool
        For a run folder: the best evaluated model (``best_model.zip``) instead of the final one.
    """
    path = _shipped(Path(spec))
    if path.is_dir():
        name = "best_model.zip" if best else "model.zip"
        if not (path / name).is_file():
            raise ConfigError(f"run folder '{path}' has no {name} (still training? resume it with --resume)")
        path = path / name
    if not (path.suffix == ".zip" or path.is_file()):
        from eomctl.protocols import parse_policy

        return parse_policy(str(spec))
    from eomctl.protocols import load_trained

    trained = load_trained(path)
    stats_path = _stats_beside(path)
    stats = pickle.loads(stats_path.read_bytes()) if stats_path else None  # VecNormalize without its envs
    return NormalizedPolicy(trained.path, trained.model, obs_stats=stats)


def run_episode(policy: Any, env: Any, seed: int, episode: int = 0) -> list[dict[str, Any]]:
    """One episode; one row per env step: :data:`COLUMNS` plus ``success``, ``lli_pct`` and ``violations``.

    Row ``k`` is the state at the end of step ``k`` (from 1), the action taken during it and its reward. The episode
    ends when the env ends it or the policy says it is done (a CC-CV at its cut-off current).
    """
    bound = policy.bind(env.unwrapped) if hasattr(policy, "bind") else policy
    limits = dict(getattr(bound, "limits", None) or {})
    obs, info = env.reset(seed=seed, options={"limits": limits} if limits else None)
    done = getattr(bound, "done", None)
    rows: list[dict[str, Any]] = []
    state, first, finished = None, True, False
    while not finished and not (done is not None and done(obs)):
        action, state = bound.predict(obs, state=state, episode_start=np.array([first]), deterministic=True)
        first = False
        obs, reward, terminated, truncated, info = env.step(action)
        row = {"episode": episode, "step": len(rows) + 1, "action": float(np.asarray(action).ravel()[0])}
        row.update({k: float(info[k]) for k in (*COLUMNS[4:-1], "time_s", "lli_pct")})
        row.update(reward=float(reward), success=bool(info["success"]), violations=int(info["violation_count"]))
        rows.append(row)
        finished = terminated or truncated
    return rows


def make_env(env_id: str, overrides: Mapping[str, Any] | None = None) -> Any:
    """A Gymnasium env by id (``eomctl/FastCharge-v0``), with scenario overrides."""
    import gymnasium as gym

    import eomctl  # noqa: F401  (registers the ids)

    return gym.make(env_id, overrides=dict(overrides)) if overrides else gym.make(env_id)


def rollout(
    agent: str | Path,
    env_id: str | None = None,
    episodes: int = 1,
    seed: int = 0,
    out: str | Path = "rollout.csv",
    plot: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    best: bool = False,
) -> dict[str, list[Any]]:
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
    plot : str or Path, optional
        PNG of current, voltage, temperature, SOC and entropy rate against time, one line per episode.
    overrides : mapping, optional
        Scenario overrides (a run folder's own ``env_overrides`` are applied first when its env is used).
    best : bool
        For a run folder: its best evaluated model instead of the final one.

    Returns
    -------
    dict of list
        The CSV's columns.
    """
    if episodes < 1:
        raise ConfigError(f"episodes must be at least 1; got {episodes}")
    run_env, run_overrides = _run_env(Path(agent))
    env_id = env_id or run_env or "eomctl/FastCharge-v0"
    merged = {**(run_overrides if env_id == run_env else {}), **(overrides or {})}
    policy, env = load_agent(agent, best=best), make_env(env_id, merged)
    try:
        rows = [row for i in range(episodes) for row in run_episode(policy, env, seed + i, episode=i)]
    finally:
        env.close()
    columns = {name: [row[name] for row in rows] for name in COLUMNS}
    write_csv(out, columns)
    if plot is not None:
        traces = {f"episode {i}": [r for r in rows if r["episode"] == i] for i in range(episodes)}
        plot_traces(traces, plot, f"{agent} on {env_id}")
    return columns


def _run_env(path: Path) -> tuple[str | None, dict[str, Any]]:
    """The env id and scenario overrides a run folder (or a model inside one) was trained with."""
    from eomctl.train import env_overrides, read_config

    folder = path if path.is_dir() else path.parent.parent if path.parent.name == "checkpoints" else path.parent
    if not (folder / "config.yaml").is_file():
        return None, {}
    config = read_config(folder)
    return config.env_id, env_overrides(config, compile_=True)


def plot_traces(traces: Mapping[str, Sequence[Mapping[str, Any]]], path: str | Path, title: str) -> Path:
    """Stacked panels of :data:`PLOTTED` against time [min], one line per trace; written atomically."""

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(PLOTTED), 1, figsize=(7, 10), sharex=True)
    for label, rows in traces.items():
        t_min = [r["time_s"] / 60.0 for r in rows]
        for ax, (key, _) in zip(axes, PLOTTED, strict=True):
            values = [r[key] for r in rows]
            if key in STEP_MEANS:  # constant over each step: drawn as steps ending at the row's time
                ax.step(t_min, values, where="pre", label=label)
            else:
                ax.plot(t_min, values, label=label)
    for ax, (_, ylabel) in zip(axes, PLOTTED, strict=True):
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[0].set_title(title, fontsize=9)
    axes[-1].set_xlabel("time [min]")
    fig.tight_layout()
    from eomctl.plots import save_figure

    return save_figure(fig, path, dpi=100)


# ------------------------------------------------------------------------------------------- end-of-training report
def evaluate_run(run_dir: str | Path, episodes: int = 3, seed: int = FINAL_EVAL_SEED) -> dict[str, Any] | None:
    """Compare a run's policy with CC-CV on held-out seeds; write ``evaluation.{json,csv,png}`` and print it.

    The policy is the run's best model by periodic (deterministic) evaluation, ``best_model.zip``, when there is one,
    as in rl-baselines3-zoo; else the final model. PPO's final deterministic policy can differ sharply from the
    stochastic one it was trained as (measured on FastCharge: the final mean policy charged too slowly to finish).

    Uses :func:`eomctl.evaluation.compare` (matched-time CC-CV and CC-CV at 0.5/1/2C). The EEZ columns say whether
    each row is within the Entropy Efficiency Zone of this table plus the sweep stored for the env (see
    :func:`eomctl.evaluation.table_rows`).
    Returns None, with a message, when :mod:`eomctl.evaluation` is not available.
    """
    try:
        from eomctl.evaluation import compare, format_table, table_rows
    except ImportError as exc:
        print(f"final evaluation skipped: eomctl.evaluation is not available ({exc})")
        return None
    from eomctl.protocols import CCCV, Rate
    from eomctl.train import env_overrides, read_config

    run_dir = Path(run_dir)
    config = read_config(run_dir)
    best = (run_dir / "best_model.zip").is_file()
    policy = load_agent(run_dir, best=best)
    print(f"final evaluation of {'best_model.zip (best periodic evaluation)' if best else 'model.zip'}")
    env = make_env(config.env_id, env_overrides(config, compile_=False))  # a one-off build: not worth JIT
    try:
        if not env.unwrapped.scenario.randomised and episodes > 1:
            print(f"{config.env_id} draws nothing per episode: 1 evaluation episode instead of {episodes}")
            episodes = 1  # a deterministic policy on a deterministic scenario repeats the same episode
        record = compare(policy, env, episodes=episodes, seed=seed)
        base = env.unwrapped
        vmax_v = base.scenario.limits.v_max_v or base.cell.v_max_v
        matched = CCCV(rate=Rate(record["matched_time_cccv"]["rate_c"]), vmax=vmax_v, cutoff=Rate(0.05))
        traces = {
            "policy": run_episode(policy, env, seed),
            f"CC-CV matched time ({matched.rate.value:.2f}C)": run_episode(matched, env, seed),
        }
    finally:
        env.close()
    rows = table_rows(record)
    record["table"] = rows
    write_json(run_dir / "evaluation.json", record)
    write_csv(run_dir / "evaluation.csv", {k: [r.get(k) for r in rows] for k in rows[0]})
    plot_traces(traces, run_dir / "evaluation.png", f"{config.algo} on {config.env_id}: policy vs CC-CV")
    print(format_table([record], record["references"]))
    eez = next((r for r in rows if r["label"] == "policy"), {}).get("in_eez")
    if eez is not None:
        print(f"policy in the EEZ (these protocols + the stored sweep for the env): {eez}")
    print(f"-> {run_dir / 'evaluation.json'}, evaluation.csv, evaluation.png")
    return record


# ------------------------------------------------------------------------------------------------ command line
def add_rollout_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``eomctl rollout`` to an ``add_subparsers()`` object (handler: ``args.func``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser("rollout", help="roll out an agent, one CSV row per step")
    add_rollout_arguments(parser)
    return parser


def add_rollout_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``eomctl rollout`` (shared with ``scripts/rollout.py``)."""
    parser.add_argument("--agent", required=True, help="run folder, model .zip or baseline spec (cccv:rate=1C,...)")
    parser.add_argument("--env", default=None, help="env id (default: the run's env, else eomctl/FastCharge-v0)")
    parser.add_argument("--episodes", type=int, default=1, help="episodes (seeds seed, seed + 1, ...)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    parser.add_argument("--out", default="rollout.csv", help="CSV to write")
    parser.add_argument("--plot", default=None, help="PNG of the traces (optional)")
    parser.add_argument("--best", action="store_true", help="a run folder's best evaluated model, not its final one")
    parser.add_argument("--no-compile", action="store_true", help="skip JIT compilation (faster start, slower steps)")
    parser.set_defaults(func=run_rollout)


def run_rollout(args: argparse.Namespace) -> int:
    """Handler of ``eomctl rollout``."""
    overrides = {"simulator": {"compile": False}} if args.no_compile else None
    columns = rollout(args.agent, args.env, args.episodes, args.seed, args.out, args.plot, overrides, best=args.best)
    print(f"{len(columns['step'])} rows -> {args.out}" + (f", {args.plot}" if args.plot else ""))
    return 0
