"""Learning curves: the periodic evaluations a training run writes (``<run>/eval/evaluations.npz``, SB3's
``EvalCallback`` format: ``timesteps``, ``results`` and ``ep_lengths`` per evaluation and episode)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eomctl.core.errors import ConfigError
from eomctl.plotting.figures import save_figure, subplots


def load_evaluations(run_dir: str | Path) -> dict[str, np.ndarray]:
    """A run's evaluations: ``timesteps`` and per evaluation the mean and std of the return and episode length."""
    path = Path(run_dir) / "eval" / "evaluations.npz"
    if not path.is_file():
        raise ConfigError(f"no evaluations in '{run_dir}' (expected {path}: a run evaluates every --eval-freq steps)")
    with np.load(path) as data:
        returns, lengths = np.asarray(data["results"], float), np.asarray(data["ep_lengths"], float)
        return {"timesteps": np.asarray(data["timesteps"]), "return_mean": returns.mean(1),
                "return_std": returns.std(1), "length_mean": lengths.mean(1)}  # fmt: skip


def plot_learning_curves(run_dirs: Sequence[str | Path], path: str | Path, labels: Sequence[str] = ()) -> Path:
    """Mean evaluation return (band: +- one std over the evaluation episodes) and episode length against env steps,
    one line per run (label: ``labels`` or the run folder's name)."""
    fig, (ret, length) = subplots(1, 2, figsize=(11, 4))
    for i, run in enumerate(run_dirs):
        curve = load_evaluations(run)
        label = labels[i] if i < len(labels) else Path(run).name
        steps = curve["timesteps"]
        line = ret.plot(steps, curve["return_mean"], marker="o", ms=3, label=label)[0]
        ret.fill_between(steps, curve["return_mean"] - curve["return_std"], curve["return_mean"] + curve["return_std"],
                         color=line.get_color(), alpha=0.15)  # fmt: skip
        length.plot(steps, curve["length_mean"], marker="o", ms=3, color=line.get_color(), label=label)
    ret.set(xlabel="env steps", ylabel="evaluation return", title="return (deterministic policy, eval draws)")
    length.set(xlabel="env steps", ylabel="steps per episode", title="episode length (30 s steps)")
    ret.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
