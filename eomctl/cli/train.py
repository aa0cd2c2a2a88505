"""``eomctl train``: train an RL agent with hyperparameters from ``agents/<algo>.yml``."""

from __future__ import annotations

from typing import Any

from eomctl.training.hyperparams import ALGORITHMS, DEFAULT_ENV_ID, VEC_ENVS, TrainConfig, parse_hyperparams
from eomctl.training.train import resume, train


def add_parser(subparsers: Any) -> Any:
    """Add ``eomctl train`` to an ``add_subparsers()`` object (handler: ``args.func``)."""
    parser = subparsers.add_parser("train", help="train an RL agent (hyperparameters from agents/<algo>.yml)")
    add_arguments(parser)
    return parser


def add_arguments(parser: Any) -> None:
    """The arguments of ``eomctl train`` (shared with ``scripts/train_agent.py``)."""
    parser.add_argument("--algo", default="ppo", choices=sorted(ALGORITHMS), help="algorithm")
    parser.add_argument("--env", default=DEFAULT_ENV_ID, help="Gymnasium id of the scenario")
    parser.add_argument("--timesteps", type=int, default=None, help="total env steps (default: the YAML's)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--n-envs", type=int, default=None, help="parallel envs (default: the YAML's)")
    parser.add_argument(
        "--vec-env",
        choices=VEC_ENVS,
        default="auto",
        help="how parallel envs run: batched (one process, all their steps in one compiled call on every core), "
        "subproc (a process each), dummy (one after another); auto: subproc up to twice the CPU cores, batched above",
    )
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
    parser.add_argument(
        "--eval-episodes",
        type=int,
        default=TrainConfig.eval_episodes,
        help="episodes per periodic evaluation, the same draws every time (the best model is kept on their mean)",
    )
    parser.add_argument("--checkpoint-freq", type=int, default=TrainConfig.checkpoint_freq, help="steps per checkpoint")
    parser.add_argument(
        "--final-eval-episodes", type=int, default=TrainConfig.final_eval_episodes, help="0 skips the CC-CV report"
    )
    parser.add_argument("--no-progress-bar", action="store_true", help="no progress bar (logs only)")
    parser.set_defaults(func=run)


def run(args: Any) -> int:
    """Handler of ``eomctl train``: train or resume and print where the run is (Ctrl-C: see ``TrainingInterrupted``)."""
    if args.resume:
        result = resume(args.resume, n_timesteps=args.timesteps)
    else:
        config = TrainConfig(
            algo=args.algo,
            env_id=args.env,
            seed=args.seed,
            n_timesteps=args.timesteps,
            n_envs=args.n_envs,
            vec_env=args.vec_env,
            hyperparams=parse_hyperparams(args.hyperparams),
            compile=not args.no_compile,
            env_overrides=parse_hyperparams(args.env_overrides),
            eval_freq=args.eval_freq,
            eval_episodes=args.eval_episodes,
            checkpoint_freq=args.checkpoint_freq,
            final_eval_episodes=args.final_eval_episodes,
            progress_bar=not args.no_progress_bar,
        )
        result = train(config, out=args.out)
    print(f"{result.num_timesteps} steps in {result.wall_s:.0f} s ({result.steps_per_s} steps/s) -> {result.run_dir}")
    return 0
