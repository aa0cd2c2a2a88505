"""Vector envs over twin simulators: one compiled call per vector step, the numbers of separate envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import eomctl  # noqa: F401  (registers the ids)
from eomctl.charging.vector import BatchedSyncVectorEnv

ENV_ID = "eomctl/ColdCharge-v0"
OVERRIDES = {"simulator": {"compile": False}, "time_limit_s": 750.0}  # episodes end within 25 steps


def test_batched_sync_vector_env_equals_separate_envs() -> None:
    """Three ColdCharge cells (each its own ambient temperature, initial SOC and cooling drawn from its seed) under
    random actions for 55 vector steps, through episode ends and auto-resets: the batched vector env gives the
    observations, rewards and flags of a ``SyncVectorEnv`` of separately built envs, in one mapped call per step."""
    n = 3
    batched = BatchedSyncVectorEnv(ENV_ID, n, OVERRIDES, threads=2)
    separate = gym.vector.SyncVectorEnv([lambda: gym.make(ENV_ID, overrides=OVERRIDES)] * n)
    assert all(env.unwrapped.sim.compiled is batched.envs[0].unwrapped.sim.compiled for env in batched.envs)
    obs_b, _ = batched.reset(seed=11)
    obs_s, _ = separate.reset(seed=11)
    np.testing.assert_array_equal(obs_b, obs_s)
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(55):
        actions = rng.uniform(-1.0, 1.0, size=(n, 1)).astype(np.float32)
        out_b, out_s = batched.step(actions), separate.step(actions)
        for got, want in zip(out_b[:4], out_s[:4], strict=True):
            np.testing.assert_array_equal(got, want)
        ended += int(np.sum(out_b[2] | out_b[3]))
    assert batched.stepper.calls >= 30  # steps right after an auto-reset run alone
    assert ended >= 2 * n
    batched.close()
    separate.close()
