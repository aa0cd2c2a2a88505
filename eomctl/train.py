"""Train stable-baselines3 agents on the charging environments, rl-baselines3-zoo style.

Hyperparameters are data: ``agents/<algo>.yml`` holds one block per Gymnasium id (plus a ``default`` block), in the
zoo's format (``n_timesteps``, ``policy``, ``n_envs``, ``normalize`` and the algorithm's own keyword arguments), with
two differences: ``policy_kwargs`` is a YAML mapping (``activation_fn: tanh``), and nothing is ever passed to ``eval``.

A run folder holds everything needed to reproduce or continue a run::

    config.yaml            resolved configuration (algorithm, env, seed, every hyperparameter)
    metadata.json          one entry per session: command line, package versions, git revision, timing
    model.zip              final model; vecnormalize.pkl its observation/reward statistics
    best_model.zip         best model of the periodic evaluations; best_vecnormalize.pkl, best_model.json
    checkpoints/           rl_model_<N>_steps.zip (+ _vecnormalize_, _replay_buffer_ .pkl), written atomically
    logs/session_<k>/      SB3 logger output (csv, stdout, tensorboard when installed), per-episode scalars
    monitor/               per-env episode logs (reward, length, entropy, charge time, violations, success)

An interrupted run (Ctrl-C, a killed job) continues with :func:`resume` from its latest complete checkpoint; the step
counter is kept (``reset_num_timesteps=False``), so the total reaches the configured ``n_timesteps``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import os
import pickle
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml

import eomctl
from eomctl.errors import ConfigError
from eomctl.io import atomic_write_text, write_json

DEFAULT_ENV_ID = "eomctl/FastCharge-v0"
# name -> (module, class). Off-policy algorithms also checkpoint their replay buffer.
ALGORITHMS: dict[str, tuple[str, str]] = {
    "ppo": ("stable_baselines3", "PPO"),
    "a2c": ("stable_baselines3", "A2C"),
    "sac": ("stable_baselines3", "SAC"),
    "td3": ("stable_baselines3", "TD3"),
    "ddpg": ("stable_baselines3", "DDPG"),
    "tqc": ("sb3_contrib", "TQC"),
    "recurrentppo": ("sb3_contrib", "RecurrentPPO"),
}
OFF_POLICY = frozenset({"sac", "td3", "ddpg", "tqc"})
# Zoo keys that configure the run rather than the algorithm's constructor.
RUN_KEYS = ("n_timesteps", "n_envs", "policy", "normalize", "noise_type", "noise_std")
ACTIVATIONS = {"tanh": "Tanh", "relu": "ReLU", "elu": "ELU", "leaky_relu": "LeakyReLU", "gelu": "GELU", "silu": "SiLU"}
# Episode-end info keys logged per episode (Monitor info_keywords) -> scalar name in the logger.
EPISODE_METRICS = {
    "entropy_j_per_k": "episode/entropy_j_per_k",
    "time_s": "episode/charge_time_s",
    "violation_count": "episode/violations",
    "success": "episode/reached_target",
    "lli_pct": "episode/lli_pct",
}
PACKAGES = ("eomctl", "pybamm", "casadi", "torch", "stable-baselines3", "sb3-contrib", "gymnasium", "numpy")
CHECKPOINT_PREFIX = "rl_model"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (written to ``config.yaml`` once resolved by :func:`resolve`)."""

    algo: str = "ppo"
    """Algorithm name, a key of :data:`ALGORITHMS`."""
    env_id: str = DEFAULT_ENV_ID
    """Gymnasium id of the scenario to train on."""
    seed: int = 0
    """Seed of the algorithm and of the training envs (env ``i`` gets ``seed + i``)."""
    n_timesteps: int | None = None
    """Total env steps; ``None`` takes ``n_timesteps`` from ``agents/<algo>.yml``."""
    n_envs: int | None = None
    """Parallel envs (SubprocVecEnv when > 1); ``None`` takes ``n_envs`` from the YAML (else 1)."""
    hyperparams: Mapping[str, Any] = field(default_factory=dict)
    """Overrides of the YAML block (dotted keys allowed); after :func:`resolve`, the full block."""
    compile: bool = True
    """JIT-compile the training envs' integrators (the scenario's ``simulator.compile``); False for quick runs."""
    env_overrides: Mapping[str, Any] = field(default_factory=dict)
    """Scenario overrides for every env, e.g. ``{"simulator": {"degradation": False}}``."""
    eval_freq: int = 5_000
    """Env steps between evaluations of the current policy on a separate env (best model kept)."""
    eval_episodes: int = 1
    """Episodes per periodic evaluation (FastCharge is not randomised: one suffices)."""
    checkpoint_freq: int = 10_000
    """Env steps between checkpoints."""
    final_eval_episodes: int = 3
    """Held-out episodes of the end-of-training comparison with CC-CV (0 skips it)."""
    torch_threads: int = 1
    """Torch CPU threads: the envs need the other cores."""
    vec_env: str = "auto"
    """"dummy", "subproc" or "auto" (subproc when ``n_envs > 1``)."""
    progress_bar: bool = True
    """Show SB3's progress bar (tqdm + rich)."""


def algorithm_class(algo: str) -> Any:
    """The stable-baselines3 / sb3-contrib class for ``algo`` (e.g. ``"ppo"`` -> ``PPO``)."""
    if algo not in ALGORITHMS:
        raise ConfigError(f"unknown algorithm '{algo}'; choose one of {sorted(ALGORITHMS)}")
    module, name = ALGORITHMS[algo]
    return getattr(importlib.import_module(module), name)


def agents_dir() -> Path:
    """Where ``<algo>.yml`` files live: ``agents/`` of a source checkout, else a copy packed into the wheel."""
    package = Path(eomctl.__file__).resolve().parent
    for folder in (package.parent / "agents", package / "agents_data"):
        if folder.is_dir():
            return folder
    raise ConfigError("no agents/ folder with hyperparameter files found")


def load_hyperparams(algo: str, env_id: str, folder: Path | None = None) -> dict[str, Any]:
    """The hyperparameter block for ``env_id`` in ``<folder>/<algo>.yml``, else its ``default`` block."""
    path = (folder or agents_dir()) / f"{algo}.yml"
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read hyperparameters '{path}': {exc}") from exc
    block = data.get(env_id, data.get("default"))
    if not isinstance(block, Mapping):
        raise ConfigError(f"'{path}' has no mapping for '{env_id}' and no 'default' block")
    return dict(block)


def parse_hyperparams(items: Sequence[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings; values are YAML (``yaml.safe_load``), dotted keys nest (``policy_kwargs.x=1``)."""
    result: dict[str, Any] = {}
    for item in items:
        key, eq, text = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"hyperparameter '{item}': expected key=value")
        try:
            value = _numeric(yaml.safe_load(text))
        except yaml.YAMLError as exc:
            raise ConfigError(f"hyperparameter '{key}': value is not YAML: {exc}") from exc
        *parents, leaf = key.strip().split(".")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return result


FLOAT_PATTERN = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _numeric(value: Any) -> Any:
    """``"1e-3"`` -> 0.001: YAML 1.1 (PyYAML) reads exponent floats without a dot as strings."""
    return float(value) if isinstance(value, str) and FLOAT_PATTERN.fullmatch(value.strip()) else value


def _merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        old = merged.get(key)
        merged[key] = _merge(old, value) if isinstance(old, Mapping) and isinstance(value, Mapping) else value
    return merged


def resolve(config: TrainConfig, folder: Path | None = None) -> TrainConfig:
    """Fill ``n_timesteps``, ``n_envs`` and ``hyperparams`` from the YAML block; explicit values win."""
    algorithm_class(config.algo)  # fail early on an unknown name
    block = _merge(load_hyperparams(config.algo, config.env_id, folder), config.hyperparams)
    n_timesteps = config.n_timesteps or block.pop("n_timesteps", None)
    n_envs = config.n_envs or block.pop("n_envs", 1)
    block.pop("n_timesteps", None), block.pop("n_envs", None)
    if not isinstance(n_timesteps, (int, float)) or n_timesteps < 1:
        raise ConfigError(f"n_timesteps must be a positive number; got {n_timesteps!r}")
    if config.vec_env not in ("auto", "dummy", "subproc"):
        raise ConfigError(f"vec_env must be auto, dummy or subproc; got '{config.vec_env}'")
    resolved = dataclasses.replace(config, n_timesteps=int(n_timesteps), n_envs=int(n_envs), hyperparams=block)
    algorithm_kwargs(resolved, n_actions=1)  # unknown keys fail here, before a run folder is written
    _check_env(resolved)
    return resolved


def _check_env(config: TrainConfig) -> None:
    """Raise :class:`ConfigError` for an unknown env id or invalid scenario overrides (not inside a worker)."""
    import gymnasium

    try:
        gymnasium.spec(config.env_id)
    except gymnasium.error.Error as exc:
        raise ConfigError(f"unknown env '{config.env_id}': {exc}") from exc
    if config.env_id.startswith("eomctl/"):
        from eomctl.scenarios import load_scenario

        load_scenario(config.env_id, env_overrides(config))


def _schedule(value: Any) -> Any:
    """``"lin_3e-4"`` -> a linear decay to 0 over training (the zoo's notation); anything else passes through."""
    if isinstance(value, str) and value.startswith("lin_"):
        from stable_baselines3.common.utils import LinearSchedule

        return LinearSchedule(float(value[4:]), 0.0, 1.0)
    return value


def _policy_kwargs(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"policy_kwargs must be a YAML mapping (Python expressions are not evaluated); got {raw!r}")
    kwargs = dict(raw)
    if "activation_fn" in kwargs:
        import torch

        name = str(kwargs["activation_fn"]).lower().removeprefix("nn.")
        if name not in ACTIVATIONS:
            raise ConfigError(f"activation_fn '{name}' is not one of {sorted(ACTIVATIONS)}")
        kwargs["activation_fn"] = getattr(torch.nn, ACTIVATIONS[name])
    return kwargs


def algorithm_kwargs(config: TrainConfig, n_actions: int) -> dict[str, Any]:
    """The constructor arguments of the algorithm from a resolved config (unknown keys raise :class:`ConfigError`)."""
    hp = dict(config.hyperparams)
    kwargs = {k: _schedule(_numeric(v)) for k, v in hp.items() if k not in RUN_KEYS}
    if "policy_kwargs" in kwargs:
        kwargs["policy_kwargs"] = _policy_kwargs(kwargs["policy_kwargs"])
    if isinstance(kwargs.get("train_freq"), list):
        kwargs["train_freq"] = tuple(kwargs["train_freq"])
    if hp.get("noise_type"):
        import numpy as np
        from stable_baselines3.common import noise

        noise_cls = {"normal": noise.NormalActionNoise, "ornstein-uhlenbeck": noise.OrnsteinUhlenbeckActionNoise}
        if hp["noise_type"] not in noise_cls:
            raise ConfigError(f"noise_type '{hp['noise_type']}' is not one of {sorted(noise_cls)}")
        sigma = float(hp.get("noise_std", 0.1)) * np.ones(n_actions)
        kwargs["action_noise"] = noise_cls[hp["noise_type"]](mean=np.zeros(n_actions), sigma=sigma)
    accepted = inspect.signature(algorithm_class(config.algo)).parameters
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ConfigError(f"{config.algo}: unknown hyperparameter(s) {unknown}")
    kwargs.setdefault("device", "cpu")
    return kwargs


# ------------------------------------------------------------------------------------------------------ envs
def make_env(env_id: str, overrides: Mapping[str, Any]) -> Any:
    """One env (a top-level function so SubprocVecEnv workers can import it)."""
    import gymnasium as gym

    import eomctl  # noqa: F401  (registers the ids in a fresh worker)

    return gym.make(env_id, overrides=dict(overrides)) if overrides else gym.make(env_id)


def env_overrides(config: TrainConfig, compile_: bool | None = None) -> dict[str, Any]:
    """The scenario overrides of a config, with ``simulator.compile`` off unless compiling."""
    use_compile = config.compile if compile_ is None else compile_
    return _merge(config.env_overrides, {} if use_compile else {"simulator": {"compile": False}})


def make_vec_env(config: TrainConfig, seed: int, *, n_envs: int, monitor_dir: Path | None, training: bool) -> Any:
    """A vector env of ``n_envs`` Monitor-wrapped envs; evaluation envs are never JIT-compiled (a one-off build)."""
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    subproc = config.vec_env == "subproc" or (config.vec_env == "auto" and n_envs > 1)
    factory = partial(make_env, config.env_id, env_overrides(config, None if training else False))
    return sb3_make_vec_env(
        factory,
        n_envs=n_envs,
        seed=seed,
        monitor_dir=str(monitor_dir) if monitor_dir else None,
        vec_env_cls=SubprocVecEnv if subproc and training else DummyVecEnv,
        # A resumed session appends to its monitor files (Monitor writes the header only when overriding).
        monitor_kwargs={"info_keywords": tuple(EPISODE_METRICS), "override_existing": seed == config.seed},
    )


def normalize_kwargs(config: TrainConfig) -> dict[str, Any] | None:
    """VecNormalize arguments from the ``normalize`` key (True: obs and reward), or None for no normalisation."""
    raw = config.hyperparams.get("normalize", False)
    if not raw:
        return None
    kwargs = dict(raw) if isinstance(raw, Mapping) else {}
    kwargs.setdefault("gamma", config.hyperparams.get("gamma", 0.99))
    return kwargs


# ------------------------------------------------------------------------------------------------------ files
def atomic_save(path: Path, save: Callable[[Path], Any]) -> Path:
    """Call ``save(tmp)`` on a temporary file beside ``path`` (same suffix), then rename it onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_vecnormalize(venv: Any, path: Path) -> None:
    """Pickle VecNormalize statistics atomically (as ``VecNormalize.save`` does, without the wrapped envs)."""
    atomic_save(path, lambda tmp: tmp.write_bytes(pickle.dumps(venv)))


def checkpoint_paths(folder: Path, steps: int) -> dict[str, Path]:
    """The files of the checkpoint at ``steps`` (SB3's CheckpointCallback names)."""
    return {
        "model": folder / f"{CHECKPOINT_PREFIX}_{steps}_steps.zip",
        "vecnormalize": folder / f"{CHECKPOINT_PREFIX}_vecnormalize_{steps}_steps.pkl",
        "replay_buffer": folder / f"{CHECKPOINT_PREFIX}_replay_buffer_{steps}_steps.pkl",
    }


def save_checkpoint(model: Any, folder: Path) -> dict[str, Path]:
    """Save model, VecNormalize statistics and replay buffer atomically; the model last (it marks completion)."""
    paths = checkpoint_paths(folder, model.num_timesteps)
    if model.get_vec_normalize_env() is not None:
        save_vecnormalize(model.get_vec_normalize_env(), paths["vecnormalize"])
    if getattr(model, "replay_buffer", None) is not None:
        atomic_save(paths["replay_buffer"], model.save_replay_buffer)
    atomic_save(paths["model"], model.save)
    return paths


def latest_checkpoint(run_dir: Path, config: TrainConfig) -> tuple[int, dict[str, Path]] | None:
    """The complete checkpoint with the most steps (model + the statistics / buffer this run needs), if any."""
    folder = run_dir / "checkpoints"
    pattern = re.compile(rf"{CHECKPOINT_PREFIX}_(\d+)_steps\.zip")
    steps = sorted((int(m[1]) for p in folder.glob("*.zip") if (m := pattern.fullmatch(p.name))), reverse=True)
    for n in steps:
        paths = checkpoint_paths(folder, n)
        need = (
            ["model"]
            + ["vecnormalize"] * bool(normalize_kwargs(config))
            + ["replay_buffer"] * (config.algo in OFF_POLICY)
        )
        if all(paths[k].is_file() for k in need):
            return n, paths
    return None


def write_config(run_dir: Path, config: TrainConfig) -> None:
    """Write the resolved config as ``config.yaml`` (atomically)."""
    data = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in dataclasses.asdict(config).items()}
    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(data, sort_keys=False))


def read_config(run_dir: Path) -> TrainConfig:
    """Read ``config.yaml`` of a run folder."""
    path = Path(run_dir) / "config.yaml"
    try:
        data = yaml.safe_load(path.read_text())
        return TrainConfig(**data)
    except (OSError, yaml.YAMLError, TypeError) as exc:
        raise ConfigError(f"'{run_dir}' is not a run folder with a readable config.yaml: {exc}") from exc


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages a result depends on (None when not installed)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = eomctl.__version__ if name == "eomctl" else None
    return versions


def git_revision() -> dict[str, Any]:
    """``git rev-parse HEAD`` of the eomctl checkout and whether it has uncommitted changes (None outside git)."""
    cwd = Path(eomctl.__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"git_revision": git("rev-parse", "HEAD"), "git_dirty": None if status is None else bool(status)}


def start_session(run_dir: Path, command: Sequence[str] | None, start_steps: int, resumed_from: str | None) -> dict:
    """Append a session (command line, versions, git revision) to ``metadata.json`` and return the metadata."""
    path = run_dir / "metadata.json"
    metadata = json.loads(path.read_text()) if path.is_file() else {"sessions": []}
    argv = list(command) if command is not None else sys.argv
    metadata["sessions"].append(
        {
            "command": shlex.join(argv),
            "cwd": str(Path.cwd()),
            "started_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "python": sys.version.split()[0],
            "versions": package_versions(),
            **git_revision(),
            "start_timesteps": start_steps,
            "resumed_from": resumed_from,
        }
    )
    write_json(path, metadata)
    return metadata


def finish_session(run_dir: Path, metadata: dict, steps: int, started: float, start_steps: int) -> dict[str, Any]:
    """Record the end of the current session (steps, wall time, steps/s) in ``metadata.json``."""
    wall_s = time.perf_counter() - started
    session = metadata["sessions"][-1]
    session.update(
        finished_utc=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        end_timesteps=steps,
        wall_s=round(wall_s, 1),
        steps_per_s=round((steps - start_steps) / wall_s, 1) if wall_s > 0 else None,
    )
    write_json(run_dir / "metadata.json", metadata)
    return dict(session)


def default_run_dir(config: TrainConfig, root: Path = Path("runs")) -> Path:
    """``runs/<algo>_<env>_<UTC timestamp>``, e.g. ``runs/ppo_FastCharge-v0_20260101-120000``."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return root / f"{config.algo}_{config.env_id.split('/')[-1]}_{stamp}"


# ------------------------------------------------------------------------------------------------------ training
def _callbacks(config: TrainConfig, run_dir: Path, eval_env: Any, best_reward: float) -> list[Any]:
    """Episode scalars, periodic evaluation keeping the best model, atomic checkpoints."""
    from stable_baselines3.common.callbacks import BaseCallback, EvalCallback

    class EpisodeMetrics(BaseCallback):
        """Log the physics of each finished episode (from Monitor's ``info["episode"]``) as mean scalars."""

        def _on_step(self) -> bool:
            for info in self.locals.get("infos", ()):
                episode = info.get("episode")
                for key, name in EPISODE_METRICS.items():
                    if episode is not None and key in episode:
                        self.logger.record_mean(name, float(episode[key]))
            return True

    class SaveBest(BaseCallback):
        """On a new best evaluation: save the VecNormalize statistics beside ``best_model.zip`` and the score."""

        def _on_step(self) -> bool:
            parent = self.parent
            if self.model.get_vec_normalize_env() is not None:
                save_vecnormalize(self.model.get_vec_normalize_env(), run_dir / "best_vecnormalize.pkl")
            score = {"num_timesteps": self.num_timesteps, "mean_reward": float(getattr(parent, "best_mean_reward", 0))}
            write_json(run_dir / "best_model.json", score)
            return True

    class Checkpoint(BaseCallback):
        """Every ``checkpoint_freq`` env steps: :func:`save_checkpoint` (atomic, with statistics and buffer)."""

        def __init__(self, every: int) -> None:
            super().__init__()
            self.every, self.last = every, 0

        def _on_training_start(self) -> None:
            self.last = self.num_timesteps  # a resumed session starts counting from its checkpoint

        def _on_step(self) -> bool:
            if self.num_timesteps - self.last >= self.every:
                self.last = self.num_timesteps
                save_checkpoint(self.model, run_dir / "checkpoints")
            return True

    n_envs = int(config.n_envs or 1)
    evaluation = EvalCallback(
        eval_env,
        callback_on_new_best=SaveBest(),
        n_eval_episodes=config.eval_episodes,
        eval_freq=max(config.eval_freq // n_envs, 1),
        log_path=str(run_dir / "eval"),
        best_model_save_path=str(run_dir),
        deterministic=True,
        verbose=0,
    )
    evaluation.best_mean_reward = best_reward  # a resumed run keeps its best model unless it is beaten
    return [EpisodeMetrics(), evaluation, Checkpoint(config.checkpoint_freq)]


def _logger(run_dir: Path, session: int) -> Any:
    from stable_baselines3.common.logger import configure

    formats = ["stdout", "csv"]
    if importlib.util.find_spec("tensorboard") is not None:
        formats.append("tensorboard")
    return configure(str(run_dir / "logs" / f"session_{session}"), formats)


def _build_envs(config: TrainConfig, run_dir: Path, session: int, vecnormalize: Path | None) -> tuple[Any, Any]:
    """Training env (VecNormalize-wrapped when configured; statistics loaded on resume) and evaluation env."""
    from stable_baselines3.common.vec_env import VecNormalize

    seed = config.seed + 1000 * session  # a resumed session draws fresh episodes
    env = make_vec_env(config, seed, n_envs=int(config.n_envs or 1), monitor_dir=run_dir / "monitor", training=True)
    eval_env = make_vec_env(config, config.seed + 10_000, n_envs=1, monitor_dir=None, training=False)
    norm = normalize_kwargs(config)
    if norm is not None:
        env = VecNormalize.load(str(vecnormalize), env) if vecnormalize else VecNormalize(env, **norm)
        env.training = True
        eval_env = VecNormalize(eval_env, training=False, norm_reward=False, gamma=norm["gamma"])
    return env, eval_env


def _run(model: Any, config: TrainConfig, run_dir: Path, session: int, extra: Sequence[Any], eval_env: Any) -> None:
    """Learn up to ``n_timesteps`` in total; on Ctrl-C (or a dead env worker) checkpoint the current step first."""
    best_path = run_dir / "best_model.json"
    best = float(json.loads(best_path.read_text())["mean_reward"]) if best_path.is_file() else -float("inf")
    model.set_logger(_logger(run_dir, session))
    remaining = int(config.n_timesteps or 0) - model.num_timesteps
    try:
        model.learn(
            total_timesteps=remaining,
            callback=[*_callbacks(config, run_dir, eval_env, best), *extra],
            log_interval=1 if config.algo not in OFF_POLICY else 10,
            reset_num_timesteps=False,
            progress_bar=config.progress_bar,
        )
    except (KeyboardInterrupt, EOFError, ConnectionError) as exc:  # Ctrl-C, or an env worker that died
        paths = save_checkpoint(model, run_dir / "checkpoints")
        if isinstance(exc, KeyboardInterrupt):
            raise TrainingInterrupted(run_dir, model.num_timesteps, paths["model"]) from exc
        raise


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during learning, after a checkpoint of the current step was saved (continue with :func:`resume`)."""

    def __init__(self, run_dir: Path, num_timesteps: int, checkpoint: Path) -> None:
        super().__init__(f"interrupted at {num_timesteps} steps; checkpoint {checkpoint}")
        self.run_dir, self.num_timesteps, self.checkpoint = run_dir, num_timesteps, checkpoint


@dataclass(frozen=True)
class TrainResult:
    """What a finished session produced."""

    run_dir: Path
    num_timesteps: int
    wall_s: float
    steps_per_s: float | None
    evaluation: Mapping[str, Any] | None


def _session(
    config: TrainConfig,
    run_dir: Path,
    command: Sequence[str] | None,
    checkpoint: tuple[int, dict[str, Path]] | None,
    callbacks: Sequence[Any],
) -> TrainResult:
    import torch

    torch.set_num_threads(config.torch_threads)
    metadata = start_session(run_dir, command, checkpoint[0] if checkpoint else 0, _name(checkpoint))
    session = len(metadata["sessions"]) - 1
    env, eval_env = _build_envs(config, run_dir, session, checkpoint[1]["vecnormalize"] if checkpoint else None)
    cls = algorithm_class(config.algo)
    if checkpoint is None:
        policy = config.hyperparams.get("policy", "MlpPolicy")
        kwargs = algorithm_kwargs(config, int(env.action_space.shape[0]))
        model = cls(policy, env, seed=config.seed, verbose=1, **kwargs)
    else:
        model = cls.load(str(checkpoint[1]["model"]), env=env, device="cpu")
        model.set_random_seed(config.seed + 1000 * session)
        if config.algo in OFF_POLICY:
            model.load_replay_buffer(str(checkpoint[1]["replay_buffer"]))
    started, start_steps = time.perf_counter(), model.num_timesteps
    try:
        _run(model, config, run_dir, session, callbacks, eval_env)
        atomic_save(run_dir / "model.zip", model.save)
        if model.get_vec_normalize_env() is not None:
            save_vecnormalize(model.get_vec_normalize_env(), run_dir / "vecnormalize.pkl")
        save_checkpoint(model, run_dir / "checkpoints")
    finally:
        timing = finish_session(run_dir, metadata, model.num_timesteps, started, start_steps)
        for venv in (env, eval_env):
            _close(venv)
    evaluation = _final_evaluation(run_dir, config)
    return TrainResult(run_dir, model.num_timesteps, timing["wall_s"], timing["steps_per_s"], evaluation)


def _name(checkpoint: tuple[int, dict[str, Path]] | None) -> str | None:
    return str(checkpoint[1]["model"]) if checkpoint else None


def _close(venv: Any) -> None:
    with contextlib.suppress(EOFError, BrokenPipeError, OSError):  # workers already gone after Ctrl-C
        venv.close()


def _final_evaluation(run_dir: Path, config: TrainConfig) -> Mapping[str, Any] | None:
    """Compare the trained policy with CC-CV on held-out seeds (see :func:`eomctl.rollout.evaluate_run`)."""
    if config.final_eval_episodes < 1:
        return None
    from eomctl.rollout import evaluate_run

    return evaluate_run(run_dir, episodes=config.final_eval_episodes)


def train(
    config: TrainConfig,
    out: str | Path | None = None,
    command: Sequence[str] | None = None,
    callbacks: Sequence[Any] = (),
) -> TrainResult:
    """Train an agent from scratch in a new run folder.

    Parameters
    ----------
    config : TrainConfig
        The run; unset fields come from ``agents/<algo>.yml`` (see :func:`resolve`).
    out : str or Path, optional
        Run folder (default :func:`default_run_dir`); it must not hold a run already.
    command : sequence of str, optional
        The command line to record (default ``sys.argv``).
    callbacks : sequence of BaseCallback
        Extra SB3 callbacks (tests use them to interrupt or inspect a run).

    Returns
    -------
    TrainResult
        Run folder, steps, wall time, steps/s and the final evaluation (None when skipped).
    """
    config = resolve(config)
    run_dir = Path(out) if out is not None else default_run_dir(config)
    if (run_dir / "config.yaml").exists():
        raise ConfigError(f"'{run_dir}' already holds a run; continue it with --resume {run_dir}")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(run_dir, config)
    return _session(config, run_dir, command, None, callbacks)


def resume(
    run_dir: str | Path,
    command: Sequence[str] | None = None,
    callbacks: Sequence[Any] = (),
    n_timesteps: int | None = None,
) -> TrainResult:
    """Continue a run from its latest complete checkpoint up to its configured ``n_timesteps``.

    Parameters
    ----------
    run_dir : str or Path
        The run folder (its ``config.yaml`` defines everything else).
    command, callbacks
        As for :func:`train`.
    n_timesteps : int, optional
        A new, larger total (recorded in ``config.yaml``): continue a finished run for longer.
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    if n_timesteps is not None and n_timesteps != config.n_timesteps:
        config = dataclasses.replace(config, n_timesteps=n_timesteps)
        write_config(run_dir, config)
    checkpoint = latest_checkpoint(run_dir, config)
    if checkpoint is None:
        raise ConfigError(f"'{run_dir}' has no complete checkpoint to resume from")
    if checkpoint[0] >= int(config.n_timesteps or 0):
        raise ConfigError(f"'{run_dir}' already reached {checkpoint[0]} of {config.n_timesteps} steps")
    return _session(config, run_dir, command, checkpoint, callbacks)


# ------------------------------------------------------------------------------------------------ command line
def add_train_parser(subparsers: Any) -> Any:
    """Add ``eomctl train`` to an ``add_subparsers()`` object (handler: ``args.func``)."""
    parser = subparsers.add_parser("train", help="train an RL agent (hyperparameters from agents/<algo>.yml)")
    add_train_arguments(parser)
    return parser


def add_train_arguments(parser: Any) -> None:
    """The arguments of ``eomctl train`` (shared with ``scripts/train_agent.py``)."""
    parser.add_argument("--algo", default="ppo", choices=sorted(ALGORITHMS), help="algorithm")
    parser.add_argument("--env", default=DEFAULT_ENV_ID, help="Gymnasium id of the scenario")
    parser.add_argument("--timesteps", type=int, default=None, help="total env steps (default: the YAML's)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--n-envs", type=int, default=None, help="parallel envs (default: the YAML's)")
    parser.add_argument(
        "--hyperparams", nargs="+", default=[], metavar="KEY=VALUE", help="YAML values, e.g. policy_kwargs='{x: 1}'"
    )
    parser.add_argument("--out", default=None, help="run folder (default runs/<algo>_<env>_<timestamp>)")
    parser.add_argument(
        "--resume", default=None, metavar="RUN", help="continue RUN (its config.yaml; --timesteps may extend it)"
    )
    parser.add_argument("--no-compile", action="store_true", help="skip JIT compilation (faster start, slower steps)")
    parser.add_argument(
        "--env-overrides", nargs="+", default=[], metavar="KEY=VALUE", help="scenario overrides: simulator.model=SPM"
    )
    parser.add_argument("--eval-freq", type=int, default=TrainConfig.eval_freq, help="env steps between evaluations")
    parser.add_argument("--checkpoint-freq", type=int, default=TrainConfig.checkpoint_freq, help="steps per checkpoint")
    parser.add_argument(
        "--final-eval-episodes", type=int, default=TrainConfig.final_eval_episodes, help="0 skips the CC-CV report"
    )
    parser.add_argument("--no-progress-bar", action="store_true", help="no progress bar (logs only)")
    parser.set_defaults(func=run_train)


def run_train(args: Any) -> int:
    """Handler of ``eomctl train``: train or resume, print where the run is; 130 after Ctrl-C (checkpoint saved)."""
    try:
        if args.resume:
            result = resume(args.resume, n_timesteps=args.timesteps)
        else:
            config = TrainConfig(
                algo=args.algo,
                env_id=args.env,
                seed=args.seed,
                n_timesteps=args.timesteps,
                n_envs=args.n_envs,
                hyperparams=parse_hyperparams(args.hyperparams),
                compile=not args.no_compile,
                env_overrides=parse_hyperparams(args.env_overrides),
                eval_freq=args.eval_freq,
                checkpoint_freq=args.checkpoint_freq,
                final_eval_episodes=args.final_eval_episodes,
                progress_bar=not args.no_progress_bar,
            )
            result = train(config, out=args.out)
    except TrainingInterrupted as stop:
        print(f"{stop}; continue with: --resume {stop.run_dir}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted before learning started: no checkpoint was saved", file=sys.stderr)
        return 130
    print(f"{result.num_timesteps} steps in {result.wall_s:.0f} s ({result.steps_per_s} steps/s) -> {result.run_dir}")
    return 0
