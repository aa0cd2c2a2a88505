"""eomctl: reinforcement-learning charging control of lithium-ion cells with exact entropy accounting.

The package is built in layers, each importing only those below it (see ``docs/architecture.md``)::

    core -> cell -> charging -> policies -> evaluation | lifetime -> analytics -> plotting -> training -> bench
    -> reproduce -> cli

``import eomctl`` registers the scenario files as Gymnasium ids (``eomctl/<Scenario>-v0``) and nothing heavier; the
names below, the ones users start from, are imported on first use (PEP 562), so ``gymnasium.make`` stays quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from eomctl.charging.registry import register_scenarios
from eomctl.core.version import __version__

if TYPE_CHECKING:
    from eomctl.cell.catalogue import Cell, load_cell
    from eomctl.cell.simulator import CellSimulator, SimulatorConfig
    from eomctl.charging.env import ChargingEnv
    from eomctl.charging.scenarios import Scenario, load_scenario
    from eomctl.evaluation.evaluate import compare, evaluate_policy
    from eomctl.lifetime.engine import LifetimeConfig, run_lifetime
    from eomctl.policies.protocol import Policy
    from eomctl.policies.specs import parse_policy

# Front door, in layer order: name -> module that defines it.
_EXPORTS = {
    "Cell": "eomctl.cell.catalogue",
    "load_cell": "eomctl.cell.catalogue",
    "CellSimulator": "eomctl.cell.simulator",
    "SimulatorConfig": "eomctl.cell.simulator",
    "Scenario": "eomctl.charging.scenarios",
    "load_scenario": "eomctl.charging.scenarios",
    "ChargingEnv": "eomctl.charging.env",
    "Policy": "eomctl.policies.protocol",
    "parse_policy": "eomctl.policies.specs",
    "evaluate_policy": "eomctl.evaluation.evaluate",
    "compare": "eomctl.evaluation.evaluate",
    "LifetimeConfig": "eomctl.lifetime.engine",
    "run_lifetime": "eomctl.lifetime.engine",
}
__all__ = [  # noqa: RUF022  (layer order, as _EXPORTS)
    "__version__",
    "register_scenarios",
    "Cell",
    "load_cell",
    "CellSimulator",
    "SimulatorConfig",
    "Scenario",
    "load_scenario",
    "ChargingEnv",
    "Policy",
    "parse_policy",
    "evaluate_policy",
    "compare",
    "LifetimeConfig",
    "run_lifetime",
]


def __getattr__(name: str) -> Any:
    """Import a front-door name on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'eomctl' has no attribute '{name}'")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


register_scenarios()
