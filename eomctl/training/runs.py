"""Run folders: atomic checkpoints, the resolved config, and what each session ran (command, versions, git)."""

from __future__ import annotations

import dataclasses
import datetime
import importlib
import importlib.metadata
import importlib.util
import json
import os
import pickle
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from eomctl.core.errors import ConfigError
from eomctl.core.io import atomic_write_text, write_json
from eomctl.core.resources import PACKAGE_DIR
from eomctl.core.version import __version__
from eomctl.training.hyperparams import CHECKPOINT_PREFIX, OFF_POLICY, PACKAGES, TrainConfig, normalize_kwargs


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
            versions[name] = __version__ if name == "eomctl" else None
    return versions


def git_revision() -> dict[str, Any]:
    """``git rev-parse HEAD`` of the eomctl checkout and whether it has uncommitted changes (None outside git)."""
    cwd = PACKAGE_DIR

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
