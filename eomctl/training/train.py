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
    logs/session_<k>/      SB3 logger output (csv, stdout, tensorboard), per-episode scalars
    monitor/               per-env episode logs (reward, length, entropy, charge time, violations, success)

An interrupted run (Ctrl-C, a killed job) continues with :func:`resume` from its latest complete checkpoint; the step
counter is kept (``reset_num_timesteps=False``), so the total reaches the configured ``n_timesteps``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from eomctl.core.errors import ConfigError
from eomctl.core.io import write_json
from eomctl.evaluation.rollout import make_env
from eomctl.training.final_evaluation import evaluate_run
from eomctl.training.hyperparams import (  # noqa: F401  (re-exported: the training API lives in eomctl.training.train)
    ALGORITHMS,
    DEFAULT_ENV_ID,
    EPISODE_METRICS,
    OFF_POLICY,
    TrainConfig,
    agents_dir,
    algorithm_class,
    algorithm_kwargs,
    env_overrides,
    load_hyperparams,
    merge_mappings,
    normalize_kwargs,
    parse_hyperparams,
    resolve,
)
from eomctl.training.runs import (
    atomic_save,
    default_run_dir,
    finish_session,
    latest_checkpoint,
    read_config,
    save_checkpoint,
    save_vecnormalize,
    start_session,
    write_config,
)


# ------------------------------------------------------------------------------------------------------ envs
def make_vec_env(config: TrainConfig, seed: int, *, n_envs: int, monitor_dir: Path | None, training: bool) -> Any:
    """A vector env of ``n_envs`` Monitor-wrapped envs; evaluation envs are never JIT-compiled (a one-off build)."""
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    subproc = config.vec_env == "subproc" or (config.vec_env == "auto" and n_envs > 1)
    # evaluation.rollout.make_env is a top-level function, so SubprocVecEnv workers can import it.
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

    return configure(str(run_dir / "logs" / f"session_{session}"), ["stdout", "csv", "tensorboard"])


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
    """Compare the trained policy with CC-CV on held-out seeds (see :func:`eomctl.evaluation.rollout.evaluate_run`)."""
    if config.final_eval_episodes < 1:
        return None

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
