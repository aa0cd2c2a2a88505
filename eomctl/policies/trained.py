"""Trained stable-baselines3 / sb3-contrib models behind the :class:`~eomctl.policies.protocol.Policy` protocol.

A model is a run folder (its ``model.zip`` or ``best_model.zip`` and the VecNormalize statistics saved with it), or a
model ``.zip`` (statistics found beside it by name), or a shipped policy under ``agents/``. Loading a model unpickles
it: load only files you trust.
"""

from __future__ import annotations

import importlib
import json
import pickle
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from eomctl.core.errors import CheckpointError, ConfigError, EomctlWarning
from eomctl.core.resources import agents_dir
from eomctl.policies.protocol import ControlTarget


@dataclass(frozen=True)
class TrainedPolicy:
    """A trained stable-baselines3 model behind the same interface as the baselines."""

    path: str
    model: Any = field(repr=False, compare=False)
    limits: Mapping[str, float] = field(default_factory=dict)

    def bind(self, target: ControlTarget) -> TrainedPolicy:
        """Nothing to bind: the model reads the observation as it was trained to."""
        return self

    def done(self, observation: np.ndarray) -> bool:
        """Never: a trained model charges until the env ends the episode."""
        return False

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """The model's action (as float32, shape (1,)) and its recurrent state."""
        action, state = self.model.predict(
            observation, state=state, episode_start=episode_start, deterministic=deterministic
        )
        return np.asarray(action, dtype=np.float32).reshape(1), state


_ALGORITHMS = (
    ("stable_baselines3", "PPO", "-"),
    ("stable_baselines3", "SAC", ".sac."),
    ("stable_baselines3", "TD3", ".td3."),
    ("stable_baselines3", "A2C", "-"),
    ("stable_baselines3", "DDPG", ".td3."),
    ("sb3_contrib", "TQC", ".tqc."),
    ("sb3_contrib", "RecurrentPPO", "recurrent"),
)


def _algorithm_hint(path: Path) -> str:
    """The module of the policy class stored in the zip's "data" (e.g. "stable_baselines3.sac.policies")."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
        return str(data.get("policy_class", {}).get("__module__", "")).lower()
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return ""


def load_trained(path: str | Path) -> TrainedPolicy:
    """Load a stable-baselines3 / sb3-contrib model, trying first the algorithm its stored policy class names."""
    target = Path(path)
    if not target.is_file():
        raise ConfigError(f"model file '{path}' not found")
    if not zipfile.is_zipfile(target):
        raise CheckpointError(f"'{path}' is not a zip archive (truncated, or not a stable-baselines3 model)")
    hint = _algorithm_hint(target)
    order = sorted(_ALGORITHMS, key=lambda entry: entry[2] not in hint)  # the hinted algorithm(s) first
    errors = []
    for module, name, _ in order:
        try:
            algorithm = getattr(importlib.import_module(module), name)
            return TrainedPolicy(str(target), algorithm.load(str(target), device="cpu"))
        except Exception as exc:  # any failure means "not this algorithm": try the next
            errors.append(f"{name}: {type(exc).__name__}")
    raise ConfigError(f"cannot load '{path}' as a stable-baselines3 model ({'; '.join(errors)})")


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
    packed = agents_dir().joinpath(*path.parts[1:])
    return packed if packed.exists() else path


def is_model_path(spec: str | Path) -> bool:
    """Whether ``spec`` names a trained model (a ``.zip``, a run folder or an existing file), not a baseline spec."""
    if str(spec).endswith(".zip"):
        return True
    try:
        path = _shipped(Path(spec))
        return path.is_dir() or path.is_file()
    except OSError:  # a name longer than the file system allows (a long baseline spec can be one): not a file
        return False


def load_agent(spec: str | Path, best: bool = False) -> NormalizedPolicy:
    """A trained policy from a run folder or a model ``.zip`` (see the module docstring).

    Parameters
    ----------
    spec : str or Path
        Run folder or model file (``agents/...`` also finds a shipped policy inside an installed wheel).
    best : bool
        For a run folder: the best evaluated model (``best_model.zip``) instead of the final one.
    """
    try:
        path = _shipped(Path(spec))
        is_folder = path.is_dir()
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise ConfigError(f"model file '{spec}' cannot be read: {exc.strerror}") from None
    if is_folder:
        name = "best_model.zip" if best else "model.zip"
        if not (path / name).is_file():
            raise ConfigError(f"run folder '{path}' has no {name} (still training? resume it with --resume)")
        path = path / name
    trained = load_trained(path)
    stats_path = _stats_beside(path)
    if stats_path is None:
        if run_config(path).get("hyperparams", {}).get("normalize", True) not in (False, None):
            warnings.warn(
                f"no VecNormalize statistics beside '{path}' (expected {path.stem}_vecnormalize.pkl or the run "
                "folder's vecnormalize.pkl): the policy sees unnormalised observations, and a policy trained with "
                "normalize: true then acts differently",
                EomctlWarning,
                stacklevel=2,
            )
        return NormalizedPolicy(trained.path, trained.model, obs_stats=None)
    try:
        stats = pickle.loads(stats_path.read_bytes())  # VecNormalize without its envs (trusted input: see docs)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError) as exc:
        raise CheckpointError(f"'{stats_path}' is not readable VecNormalize statistics (truncated?): {exc}") from None
    return NormalizedPolicy(trained.path, trained.model, obs_stats=stats)


def run_config(path: Path) -> dict[str, Any]:
    """The ``config.yaml`` of the run folder a model lies in (or of the folder itself); ``{}`` outside a run."""
    folder = path if path.is_dir() else path.parent.parent if path.parent.name == "checkpoints" else path.parent
    config_path = folder / "config.yaml"
    if not config_path.is_file():
        return {}
    try:
        config = yaml.safe_load(config_path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"'{folder}' has an unreadable config.yaml: {exc}") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"'{config_path}' is not a run configuration (a mapping)")
    return config


def run_environment(path: Path) -> tuple[str | None, dict[str, Any]]:
    """The env id and scenario overrides a run folder (or a model inside one) was trained with, from its
    ``config.yaml``; ``(None, {})`` for anything else."""
    config = run_config(path)
    return config.get("env_id"), dict(config.get("env_overrides") or {})
