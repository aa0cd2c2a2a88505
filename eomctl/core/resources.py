"""Where the package's data lives: cell files, drive cycles and stored fronts inside the package; scenarios and shipped
agents in the repository's ``envs/`` and ``agents/`` (or, in an installed wheel, copied into the package)."""

from __future__ import annotations

from pathlib import Path

from eomctl.core.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parents[1]
"""The ``eomctl`` package folder."""

DATA_DIR = PACKAGE_DIR / "data"
"""Data that ships inside the package (``cells/``, ``drive_cycles/``, ``fronts/``)."""

REPO_ROOT = PACKAGE_DIR.parent
"""The source checkout's root (holds ``envs/``, ``agents/``, ``benchmarks/``, ``results/`` when run from source)."""


def data_folders(repo_name: str, wheel_name: str) -> list[Path]:
    """The data folder of the source checkout (``envs``, ``agents``) and its copy in a wheel, those that exist."""
    return [d for d in (REPO_ROOT / repo_name, PACKAGE_DIR / wheel_name) if d.is_dir()]


def scenario_paths() -> dict[str, Path]:
    """Scenario name -> YAML file (``envs/<Name>.yaml``), from the first folder of :func:`data_folders` that has it."""
    found: dict[str, Path] = {}
    for folder in data_folders("envs", "scenarios_data"):
        for path in sorted(folder.glob("*.yaml")):
            found.setdefault(path.stem, path)
    return found


def agents_dir() -> Path:
    """The folder of per-algorithm hyperparameters and shipped policies (``agents/``)."""
    folders = data_folders("agents", "agents_data")
    if not folders:
        raise ConfigError("no agents/ folder with hyperparameter files found")
    return folders[0]
