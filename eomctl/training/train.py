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

Checkpoints fall at segment boundaries (every ``checkpoint_freq`` steps rounded up to whole rollouts, and at step
0), where :func:`start_segment` reseeds every random stream and starts fresh episodes. An interrupted run (Ctrl-C, a
killed job) continues with :func:`resume` from its latest checkpoint and ends with the same weights, bit for bit, as
the run that was never interrupted; the steps since that checkpoint are run again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from eomctl.core.errors import CheckpointError, ConfigError
from eomctl.core.interrupts import Interrupted, held, ignore_in_worker
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
def worker_env(env_id: str, overrides: Mapping[str, Any]) -> Any:
    """:func:`make_env` in a SubprocVecEnv worker that leaves Ctrl-C to the parent (which owns the checkpoint)."""
    ignore_in_worker()
    return make_env(env_id, overrides)


def make_vec_env(config: TrainConfig, seed: int, *, n_envs: int, monitor_dir: Path | None, training: bool,
                 append: bool = False) -> Any:  # fmt: skip
    """A vector env of ``n_envs`` Monitor-wrapped envs; evaluation envs are never JIT-compiled (a one-off build).

    ``append`` keeps the monitor files of earlier sessions (a resumed run adds to them).
    """
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    from eomctl.charging.vector import default_threads, twin_env_fns
    from eomctl.training.vector import BatchedVecEnv

    overrides = env_overrides(config, None if training else False)
    # auto: a process per env while there are few (measured faster for 2 envs on 2 cores), one batched process for
    # many (benchmarks/bench_throughput.py).
    many = n_envs > 2 * default_threads()
    kind = config.vec_env if config.vec_env != "auto" else ("batched" if many else "subproc")
    if not training or n_envs == 1:
        kind = "dummy"
    vec_env_cls: Any = {"dummy": DummyVecEnv, "subproc": SubprocVecEnv, "batched": BatchedVecEnv}[kind]
    if kind == "batched":
        # Built in this process, in order: the first env builds the model, the others twin its simulator.
        factory: Any = twin_env_fns(config.env_id, n_envs, overrides)[0]
    else:
        # A top-level function, so SubprocVecEnv workers can import it.
        factory = partial(worker_env, config.env_id, overrides)
    return sb3_make_vec_env(
        factory,
        n_envs=n_envs,
        seed=seed,
        monitor_dir=str(monitor_dir) if monitor_dir else None,
        vec_env_cls=vec_env_cls,
        # Monitor writes the header only when overriding.
        monitor_kwargs={"info_keywords": tuple(EPISODE_METRICS), "override_existing": not append},
    )


# ------------------------------------------------------------------------------------------------ segments
def segment_steps(config: TrainConfig) -> int:
    """Env steps between checkpoints: ``checkpoint_freq`` rounded up to whole rollouts (all envs), so that every
    checkpoint falls between two updates."""
    n_envs = int(config.n_envs or 1)
    if config.algo in OFF_POLICY:
        train_freq = config.hyperparams.get("train_freq", 1)
        per_env = train_freq if isinstance(train_freq, int) else 1
    else:
        per_env = int(config.hyperparams.get("n_steps", 2048))
    rollout = max(per_env, 1) * n_envs
    return -(-int(config.checkpoint_freq) // rollout) * rollout


def segment_seed(config: TrainConfig, steps: int) -> int:
    """The seed of the segment that starts at ``steps`` (independent streams for every run seed and step)."""
    return int(np.random.SeedSequence([config.seed, steps]).generate_state(1)[0])


def start_segment(model: Any, config: TrainConfig) -> None:
    """Seed every random stream from (seed, step) and start fresh episodes.

    A run is a sequence of segments of :func:`segment_steps` steps. Each starts here, from the model, its optimiser
    and the VecNormalize statistics alone, which is exactly what a checkpoint holds: so a run resumed from a
    checkpoint repeats the uninterrupted run bit for bit. The price is that episodes in flight at a segment boundary
    are cut there (their last value is bootstrapped, as for any rollout end).
    """
    model.set_random_seed(segment_seed(config, model.num_timesteps))
    env = model.get_env()
    model._last_obs = env.reset()  # set here, so SB3's learn() does not reset again
    model._last_episode_starts = np.ones((env.num_envs,), dtype=bool)
    normalizer = model.get_vec_normalize_env()
    if normalizer is not None:
        model._last_original_obs = normalizer.get_original_obs()


def _callbacks(config: TrainConfig, run_dir: Path, eval_env: Any, best_reward: float) -> list[Any]:
    """Episode scalars, periodic evaluation keeping the best model, atomic checkpoints at segment boundaries."""
    from stable_baselines3.common.callbacks import BaseCallback, EvalCallback

    n_envs = int(config.n_envs or 1)

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

    class Evaluation(EvalCallback):
        """EvalCallback at fixed step counts (a resumed session keeps the schedule), on the same held-out episodes
        every time (scores compare, and no evaluation depends on how many came before)."""

        def _on_training_start(self) -> None:
            self.n_calls = self.num_timesteps // n_envs
            # SB3 rewrites evaluations.npz from this session's list: a resumed session starts that list from the
            # file, up to the checkpoint it resumes from, so the run keeps one learning curve.
            if self.log_path is not None and Path(f"{self.log_path}.npz").exists():
                with np.load(f"{self.log_path}.npz") as data:
                    keep = data["timesteps"] <= self.num_timesteps
                    self.evaluations_timesteps = [int(t) for t in data["timesteps"][keep]]
                    self.evaluations_results = [list(r) for r in data["results"][keep]]
                    self.evaluations_length = [list(n) for n in data["ep_lengths"][keep]]

        def _on_step(self) -> bool:
            if self.eval_freq > 0 and self.n_calls % self.eval_freq == 0:
                self.eval_env.seed(config.seed + 10_000)
            return bool(super()._on_step())

    class Segments(BaseCallback):
        """At each segment boundary (between two updates): the checkpoint, then :func:`start_segment`."""

        def __init__(self, every: int) -> None:
            super().__init__()
            self.every, self.first = every, 0

        def _on_training_start(self) -> None:
            self.first = self.model.num_timesteps  # the session's own start is already a boundary

        def _on_rollout_start(self) -> None:
            steps = self.model.num_timesteps
            if steps != self.first and steps % self.every == 0:
                save_checkpoint(self.model, run_dir / "checkpoints")
                start_segment(self.model, config)

        def _on_step(self) -> bool:
            return True

    evaluation = Evaluation(
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
    return [EpisodeMetrics(), evaluation, Segments(segment_steps(config))]


def _logger(run_dir: Path, session: int) -> Any:
    from stable_baselines3.common.logger import configure

    return configure(str(run_dir / "logs" / f"session_{session}"), ["stdout", "csv", "tensorboard"])


def _build_envs(config: TrainConfig, run_dir: Path, session: int, vecnormalize: Path | None) -> tuple[Any, Any]:
    """Training env (VecNormalize-wrapped when configured; statistics loaded on resume) and evaluation env."""
    from stable_baselines3.common.vec_env import VecNormalize

    n_envs = int(config.n_envs or 1)
    monitor = run_dir / "monitor"
    env = make_vec_env(config, config.seed, n_envs=n_envs, monitor_dir=monitor, training=True, append=session > 0)
    eval_env = make_vec_env(config, config.seed + 10_000, n_envs=1, monitor_dir=None, training=False)
    norm = normalize_kwargs(config)
    if norm is not None:
        env = _load_statistics(vecnormalize, env) if vecnormalize else VecNormalize(env, **norm)
        env.training = True
        eval_env = VecNormalize(eval_env, training=False, norm_reward=False, gamma=norm["gamma"])
    return env, eval_env


def _run(model: Any, config: TrainConfig, run_dir: Path, session: int, extra: Sequence[Any], eval_env: Any) -> None:
    """Learn up to ``n_timesteps`` in total; on Ctrl-C say which checkpoint a resume continues from."""
    best_path = run_dir / "best_model.json"
    best = float(json.loads(best_path.read_text())["mean_reward"]) if best_path.is_file() else -float("inf")
    model.set_logger(_logger(run_dir, session))
    remaining = int(config.n_timesteps or 0) - model.num_timesteps
    try:
        with held() as ctrl_c:  # a Ctrl-C sets a flag; the first callback stops at the end of the step it came in
            model.learn(
                total_timesteps=remaining,
                callback=[_stop_on_ctrl_c(ctrl_c), *_callbacks(config, run_dir, eval_env, best), *extra],
                log_interval=1 if config.algo not in OFF_POLICY else 10,
                reset_num_timesteps=False,
                progress_bar=config.progress_bar,
            )
    except KeyboardInterrupt as exc:
        # The state in the middle of a segment is not saved: a resume from it could not repeat the uninterrupted
        # run. The last boundary's checkpoint (written when that segment started) is the one to continue from.
        latest = latest_checkpoint(run_dir, config)
        raise TrainingInterrupted(run_dir, model.num_timesteps, latest) from exc


def _stop_on_ctrl_c(recorder: Any) -> Any:
    """An SB3 callback that raises ``KeyboardInterrupt`` after the env step in which ``recorder`` saw a Ctrl-C."""
    from stable_baselines3.common.callbacks import BaseCallback

    class StopOnCtrlC(BaseCallback):
        def _on_step(self) -> bool:
            if recorder.received:
                raise KeyboardInterrupt
            return True

    return StopOnCtrlC()


class TrainingInterrupted(Interrupted):
    """Ctrl-C during learning; the run continues with :func:`resume` from its latest checkpoint."""

    def __init__(self, run_dir: Path, num_timesteps: int, checkpoint: tuple[int, dict[str, Path]] | None) -> None:
        kept = f"checkpoint at {checkpoint[0]} steps kept" if checkpoint else "no checkpoint yet"
        super().__init__(f"training interrupted at {num_timesteps} steps ({kept}); continue with --resume {run_dir}")
        self.run_dir, self.num_timesteps = run_dir, num_timesteps
        self.checkpoint_steps = checkpoint[0] if checkpoint else None


@dataclass(frozen=True)
class TrainResult:
    """What a finished session produced."""

    run_dir: Path
    num_timesteps: int
    wall_s: float
    steps_per_s: float | None
    evaluation: Mapping[str, Any] | None


@contextlib.contextmanager
def _naming_the_way_back(run_dir: Path, config: TrainConfig, steps: int) -> Iterator[None]:
    """A Ctrl-C before learning starts (env or JIT build) also says which checkpoint a resume continues from."""
    try:
        yield
    except TrainingInterrupted:
        raise
    except KeyboardInterrupt as exc:
        raise TrainingInterrupted(run_dir, steps, latest_checkpoint(run_dir, config)) from exc


def _session(
    config: TrainConfig,
    run_dir: Path,
    command: Sequence[str] | None,
    checkpoint: tuple[int, dict[str, Path]] | None,
    callbacks: Sequence[Any],
) -> TrainResult:
    """One session of a run: build the envs, load or make the model, learn, save, evaluate."""
    with _naming_the_way_back(run_dir, config, checkpoint[0] if checkpoint else 0):
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
            save_checkpoint(model, run_dir / "checkpoints")  # step 0: a resume always has a start to repeat
        else:
            model = _load_checkpoint(cls, checkpoint[1], env, config)
        start_segment(model, config)
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
    evaluation = _final_evaluation(run_dir, config)  # the run is complete: a Ctrl-C here just stops
    return TrainResult(run_dir, model.num_timesteps, timing["wall_s"], timing["steps_per_s"], evaluation)


def _load_statistics(path: Path, env: Any) -> Any:
    from stable_baselines3.common.vec_env import VecNormalize

    try:
        return VecNormalize.load(str(path), env)
    except Exception as exc:  # a pickle cut short
        env.close()
        raise CheckpointError(
            f"checkpoint statistics '{path}' cannot be read ({type(exc).__name__}); delete that checkpoint's files to "
            "resume from the previous one"
        ) from None


def _load_checkpoint(cls: Any, paths: Mapping[str, Path], env: Any, config: TrainConfig) -> Any:
    """The model (and replay buffer) of a checkpoint; a damaged file is named, with the way around it."""
    try:
        model = cls.load(str(paths["model"]), env=env, device="cpu")
        if config.algo in OFF_POLICY:
            model.load_replay_buffer(str(paths["replay_buffer"]))
    except Exception as exc:  # a zip or pickle cut short (checkpoints are written atomically: damage is external)
        raise CheckpointError(
            f"checkpoint '{paths['model']}' cannot be read ({type(exc).__name__}: {exc}); delete its files to resume "
            "from the previous checkpoint"
        ) from None
    return model


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
        The run folder (its ``config.yaml`` defines everything else). The result equals the uninterrupted run's
        (see :func:`start_segment`); a folder with no checkpoint yet starts from step 0.
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
    # A run stopped before its first checkpoint (during the JIT build, say) starts again from step 0: the same run.
    checkpoint = latest_checkpoint(run_dir, config)
    if checkpoint is not None and not zipfile.is_zipfile(checkpoint[1]["model"]):  # before the envs are built
        raise CheckpointError(
            f"checkpoint '{checkpoint[1]['model']}' cannot be read (not a zip archive: truncated?); delete its files "
            "to resume from the previous checkpoint"
        )
    if checkpoint is not None and checkpoint[0] >= int(config.n_timesteps or 0):
        raise ConfigError(f"'{run_dir}' already reached {checkpoint[0]} of {config.n_timesteps} steps")
    return _session(config, run_dir, command, checkpoint, callbacks)


# ------------------------------------------------------------------------------------------------ command line
