"""The one control loop: a :class:`~eomctl.policies.protocol.Policy` driven through an episode.

:func:`drive` is the loop itself, over any ``step(action) -> (observation, reward, terminated, truncated, info)``:
a Gymnasium env's ``step`` (evaluation, rollouts) or the lifetime engine's charge phase. :func:`start_episode` binds a
policy to an env and resets the env with the policy's limits, so that every caller starts an episode the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, SupportsFloat

import numpy as np

from eomctl.policies.protocol import Policy

# env.step's signature: action -> (observation, reward, terminated, truncated, info)
StepFunction = Callable[[Any], tuple[Any, SupportsFloat, bool, bool, Mapping[str, Any]]]


@dataclass(frozen=True)
class Transition:
    """One control step: the action taken (the env's scale, [-1, 1]), its reward and what the step reported."""

    action: float
    reward: float
    terminated: bool
    truncated: bool
    info: Mapping[str, Any]


def drive(policy: Policy, observation: np.ndarray, step: StepFunction) -> Iterator[Transition]:
    """Run a bound ``policy`` from ``observation`` until ``step`` ends the episode or the policy says it is done.

    Yields one :class:`Transition` per control step; the caller reads whatever else it needs between steps. The
    policy is asked deterministically, with ``episode_start`` true on the first step only (recurrent policies).
    """
    state: Any = None
    first = True
    while not policy.done(observation):
        action, state = policy.predict(observation, state=state, episode_start=np.array([first]), deterministic=True)
        first = False
        observation, reward, terminated, truncated, info = step(action)
        yield Transition(float(np.asarray(action).ravel()[0]), float(reward), terminated, truncated, info)
        if terminated or truncated:
            return


def start_episode(policy: Policy, env: Any, seed: int) -> tuple[Policy, np.ndarray, dict[str, Any]]:
    """Bind ``policy`` to the unwrapped env, reset the env with the policy's limits; return the bound policy, the first
    observation and the reset info."""
    bound = policy.bind(env.unwrapped)
    limits = dict(bound.limits)
    observation, info = env.reset(seed=seed, options={"limits": limits} if limits else None)
    return bound, observation, info


def stopped_by(last: Transition | None) -> str:
    """Why an episode ended: "solver_failure", "target", "time_limit", or "policy" (it said it was done)."""
    if last is None or not (last.terminated or last.truncated):
        return "policy"
    if last.info.get("solver_failure"):
        return "solver_failure"
    return "target" if last.terminated else "time_limit"
