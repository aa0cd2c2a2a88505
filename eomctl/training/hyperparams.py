"""Training configuration and hyperparameters: rl-baselines3-zoo style YAML in agents/<algo>.yml, keyed by env id."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
import inspect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from eomctl.charging.scenarios import load_scenario
from eomctl.core.errors import ConfigError
from eomctl.core.resources import agents_dir

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
VEC_ENVS = ("auto", "dummy", "subproc", "batched")
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
    checkpoint_freq: int = 4_096
    """Env steps between checkpoints, rounded up to whole rollouts (``training.train.segment_steps``)."""
    final_eval_episodes: int = 3
    """Held-out episodes of the end-of-training comparison with CC-CV (0 skips it)."""
    torch_threads: int = 1
    """Torch CPU threads: the envs need the other cores."""
    vec_env: str = "auto"
    """"dummy", "subproc", "batched" (one process, every env's step in one compiled call:
    :class:`eomctl.training.vector.BatchedVecEnv`) or "auto" (subproc for up to twice the CPU cores, batched above)."""
    progress_bar: bool = True
    """Show SB3's progress bar (tqdm + rich)."""


def algorithm_class(algo: str) -> Any:
    """The stable-baselines3 / sb3-contrib class for ``algo`` (e.g. ``"ppo"`` -> ``PPO``)."""
    if algo not in ALGORITHMS:
        raise ConfigError(f"unknown algorithm '{algo}'; choose one of {sorted(ALGORITHMS)}")
    module, name = ALGORITHMS[algo]
    return getattr(importlib.import_module(module), name)


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


def merge_mappings(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        old = merged.get(key)
        merged[key] = merge_mappings(old, value) if isinstance(old, Mapping) and isinstance(value, Mapping) else value
    return merged


def resolve(config: TrainConfig, folder: Path | None = None) -> TrainConfig:
    """Fill ``n_timesteps``, ``n_envs`` and ``hyperparams`` from the YAML block; explicit values win."""
    algorithm_class(config.algo)  # fail early on an unknown name
    block = merge_mappings(load_hyperparams(config.algo, config.env_id, folder), config.hyperparams)
    n_timesteps = config.n_timesteps if config.n_timesteps is not None else block.pop("n_timesteps", None)
    n_envs = config.n_envs if config.n_envs is not None else block.pop("n_envs", 1)
    block.pop("n_timesteps", None), block.pop("n_envs", None)
    for name, value in (("n_timesteps", n_timesteps), ("n_envs", n_envs), ("eval_freq", config.eval_freq),
                        ("eval_episodes", config.eval_episodes), ("checkpoint_freq", config.checkpoint_freq),
                        ("torch_threads", config.torch_threads)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1:
            raise ConfigError(f"{name} must be a positive number; got {value!r}")
    if config.final_eval_episodes < 0:
        raise ConfigError(f"final_eval_episodes must be >= 0 (0 skips it); got {config.final_eval_episodes}")
    _check_numbers(config.algo, block)
    if config.vec_env not in VEC_ENVS:
        raise ConfigError(f"vec_env must be one of {', '.join(VEC_ENVS)}; got '{config.vec_env}'")
    resolved = dataclasses.replace(config, n_timesteps=int(n_timesteps), n_envs=int(n_envs), hyperparams=block)
    algorithm_kwargs(resolved, n_actions=1)  # unknown keys fail here, before a run folder is written
    _check_env(resolved)
    return resolved


# Hyperparameters that must be numbers (a schedule "lin_<number>" where SB3 accepts one): SB3 would only assert deep
# inside the model's constructor, after the run folder exists.
NUMERIC_HYPERPARAMS = ("learning_rate", "gamma", "gae_lambda", "clip_range", "ent_coef", "vf_coef", "max_grad_norm",
                       "batch_size", "n_steps", "n_epochs", "buffer_size", "learning_starts", "tau", "gradient_steps",
                       "target_kl", "noise_std")  # fmt: skip
SCHEDULED = ("learning_rate", "clip_range")


def _check_numbers(algo: str, block: Mapping[str, Any]) -> None:
    """Refuse a non-numeric value of a numeric hyperparameter, naming it (``ent_coef`` may also be ``"auto"``)."""
    for key in NUMERIC_HYPERPARAMS:
        value = _numeric(block.get(key, 0))
        if isinstance(value, bool) or value is None:
            ok = value is None and key == "target_kl"
        elif isinstance(value, str):
            number = value[4:] if key in SCHEDULED and value.startswith("lin_") else value
            ok = _is_number(number) or (key == "ent_coef" and value.startswith("auto"))
        else:
            ok = isinstance(value, (int, float))
        if not ok:
            raise ConfigError(f"{algo}: hyperparameter {key} must be a number; got {value!r}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_env(config: TrainConfig) -> None:
    """Raise :class:`ConfigError` for an unknown env id or invalid scenario overrides (not inside a worker)."""
    import gymnasium

    try:
        gymnasium.spec(config.env_id)
    except gymnasium.error.Error as exc:
        raise ConfigError(f"unknown env '{config.env_id}': {exc}") from exc
    if config.env_id.startswith("eomctl/"):
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


def env_overrides(config: TrainConfig, compile_: bool | None = None) -> dict[str, Any]:
    """The scenario overrides of a config, with ``simulator.compile`` off unless compiling."""
    use_compile = config.compile if compile_ is None else compile_
    return merge_mappings(config.env_overrides, {} if use_compile else {"simulator": {"compile": False}})


def normalize_kwargs(config: TrainConfig) -> dict[str, Any] | None:
    """VecNormalize arguments from the ``normalize`` key (True: obs and reward), or None for no normalisation."""
    raw = config.hyperparams.get("normalize", False)
    if not raw:
        return None
    kwargs = dict(raw) if isinstance(raw, Mapping) else {}
    kwargs.setdefault("gamma", config.hyperparams.get("gamma", 0.99))
    return kwargs


# ------------------------------------------------------------------------------------------------------ training
