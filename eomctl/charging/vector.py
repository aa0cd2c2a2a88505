"""Vector envs whose cells advance in one compiled call: a Gymnasium ``SyncVectorEnv`` over twin simulators.

:func:`twin_env_fns` makes env constructors that build the model once (the first env) and give every other env a
:meth:`~eomctl.cell.simulator.CellSimulator.twin` of it. Before each vector step, :func:`prefetch` computes the next
limited step of every env in "enforce" mode in one mapped call (:class:`~eomctl.cell.batch.BatchStepper`), and each
env's own ``step`` then takes its prefetched result: same numbers as separate envs, one call per vector step.
Stable-Baselines3's counterpart is :class:`eomctl.training.vector.BatchedVecEnv`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from eomctl.cell.batch import BatchStepper
from eomctl.charging.env import ChargingEnv
from eomctl.core.errors import ActionError


def default_threads() -> int:
    """Threads of a batched call: the CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def prefetch(envs: Sequence[Any], actions: Sequence[Any], stepper: BatchStepper) -> int:
    """Run the next limited step of every env in one call (envs may be wrapped); returns how many were batched.

    An env in "penalise" mode, before its first reset, or given an invalid action gets nothing: its own ``step`` then
    runs (or refuses) as usual.
    """
    sims, requests = [], []
    for env, action in zip(envs, actions, strict=True):
        base = env.unwrapped
        if not isinstance(base, ChargingEnv):
            continue
        try:
            request = base.limit_request(action)
        except ActionError:
            request = None
        sims.append(base.sim)
        requests.append(request)
    if not sims:
        return 0
    return stepper.prefetch(sims, requests, envs[0].unwrapped.scenario.dt_s)


class _SharedModel:
    """Env constructor: the first call builds the model, later ones twin its simulator."""

    def __init__(self, env_id: str, overrides: Mapping[str, Any] | None, wrap: Callable[[Any], Any] | None) -> None:
        self.env_id, self.overrides, self.wrap = env_id, dict(overrides or {}), wrap
        self.first: ChargingEnv | None = None

    def make(self) -> Any:
        kwargs: dict[str, Any] = {"overrides": self.overrides} if self.overrides else {}
        if self.first is not None:
            kwargs["simulator"] = self.first.sim
        env = gym.make(self.env_id, **kwargs)
        if self.first is None:
            self.first = env.unwrapped  # type: ignore[assignment]
        return self.wrap(env) if self.wrap else env


def twin_env_fns(
    env_id: str, n_envs: int, overrides: Mapping[str, Any] | None = None, wrap: Callable[[Any], Any] | None = None
) -> list[Callable[[], Any]]:
    """``n_envs`` constructors of ``env_id`` envs sharing one built model (call them in order, as vector envs do)."""
    shared = _SharedModel(env_id, overrides, wrap)
    return [shared.make] * n_envs


class BatchedSyncVectorEnv(gym.vector.SyncVectorEnv):
    """``SyncVectorEnv`` whose envs' limited steps run in one compiled call per vector step.

    Parameters
    ----------
    env_id : str
        A registered eomctl id, e.g. ``"eomctl/ColdCharge-v0"``.
    n_envs : int
        Number of cells.
    overrides : mapping, optional
        Scenario overrides (as ``gymnasium.make(env_id, overrides=...)``).
    threads : int, optional
        Threads of the batched call; default the CPU cores this process may use.

    Examples
    --------
    >>> import eomctl  # registers the ids
    >>> envs = BatchedSyncVectorEnv("eomctl/FastCharge-v0", 4, {"simulator": {"compile": False}})  # doctest: +SKIP
    >>> observations, infos = envs.reset(seed=0)  # doctest: +SKIP
    """

    def __init__(
        self, env_id: str, n_envs: int, overrides: Mapping[str, Any] | None = None, threads: int | None = None
    ) -> None:
        super().__init__(twin_env_fns(env_id, n_envs, overrides))
        self.stepper = BatchStepper(threads or default_threads())

    def step(self, actions: Any) -> tuple[Any, ...]:
        prefetch(self.envs, list(np.asarray(actions)), self.stepper)
        return super().step(actions)  # type: ignore[no-any-return]
