"""Gymnasium ids for the scenario files: ``envs/<Name>.yaml`` becomes ``eomctl/<Name>-v0``.

Light on purpose: :func:`register_scenarios` runs at ``import eomctl`` and reads only file names, so registering the
ids never imports PyBaMM or CasADi; ``gymnasium.make`` imports the env when it builds one.
"""

from __future__ import annotations

import gymnasium

from eomctl.core.resources import scenario_paths

ENTRY_POINT = "eomctl.charging.env:ChargingEnv"


def register_scenarios() -> list[str]:
    """Register every scenario file as the Gymnasium id ``eomctl/<Name>-v0``; safe to call more than once.

    Returns
    -------
    list of str
        The ids registered by this or an earlier call.
    """
    ids = []
    for name in scenario_paths():
        env_id = f"eomctl/{name}-v0"
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=ENTRY_POINT, kwargs={"scenario": name})
        ids.append(env_id)
    return ids
