"""Stable-Baselines3's vector env over twin simulators, advanced in one compiled call per vector step.

:class:`BatchedVecEnv` is SB3's ``DummyVecEnv`` (every env in this process, in order) with one addition: before the
envs step, their limited steps run as one mapped call of the limit controller on several threads
(:func:`eomctl.charging.vector.prefetch`). ``eomctl train --vec-env batched`` uses it; results are those of a
``DummyVecEnv`` of separate envs, bit for bit (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from stable_baselines3.common.vec_env import DummyVecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from eomctl.cell.batch import BatchStepper
from eomctl.charging.vector import default_threads, prefetch


class BatchedVecEnv(DummyVecEnv):
    """``DummyVecEnv`` whose envs' limited steps run in one compiled call (envs from
    :func:`eomctl.charging.vector.twin_env_fns`, so that they share one model)."""

    def __init__(self, env_fns: Sequence[Callable[[], Any]], threads: int | None = None) -> None:
        super().__init__(list(env_fns))
        self.stepper = BatchStepper(threads or default_threads())

    def step_wait(self) -> VecEnvStepReturn:
        prefetch(self.envs, list(self.actions), self.stepper)
        return super().step_wait()
