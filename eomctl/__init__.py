"""eomctl: reinforcement-learning charging control of lithium-ion cells with exact entropy accounting.

The package builds a PyBaMM cell model once and steps a compiled integrator (:mod:`eomctl.simulator`), wraps it in
Gymnasium environments registered as ``eomctl/<Scenario>-v0`` (:mod:`eomctl.env`), and measures entropy production and
degradation of learned and standard charging protocols.
"""

from __future__ import annotations

__version__ = "0.1.0"

from eomctl.scenarios import register_scenarios

register_scenarios()
