"""The policy protocol: what every charging controller answers, hand-written or trained.

One loop (:mod:`eomctl.policies.episode`) runs any :class:`Policy` through an episode of a
:class:`~eomctl.charging.env.ChargingEnv`, and the lifetime engine runs it through the charge phase of every cycle.
A policy answers stable-baselines3's ``predict(observation, state, episode_start, deterministic) -> (action, state)``
with the env's action ``a = 2 I / I_max - 1`` in [-1, 1]. Before an episode the loop calls ``policy.bind(target)``
(a baseline learns where each feature sits in the observation and how amps map to actions) and resets the env with
``options={"limits": policy.limits}``: the env's enforced limits then turn a constant current into the discrete-time
CV taper (``v_max_v``) or the constant-anode-potential phase of CC-CO (``anode_min_v``). A policy may also say it is
done (``done(observation)``), e.g. CC-CV once the current has tapered to its cut-off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from eomctl.core.errors import ConfigError


class _Cell(Protocol):
    @property
    def capacity_ah(self) -> float: ...


class _Scenario(Protocol):
    @property
    def time_limit_s(self) -> float: ...


class ControlTarget(Protocol):
    """What a policy binds to: a :class:`~eomctl.charging.env.ChargingEnv`, or the lifetime engine's charge phase."""

    @property
    def features(self) -> Sequence[str]: ...

    @property
    def cell(self) -> _Cell: ...

    @property
    def current_max_a(self) -> float: ...

    @property
    def scenario(self) -> _Scenario: ...


@runtime_checkable
class Policy(Protocol):
    """Everything a loop calls on a charging controller: a baseline charger or a trained agent."""

    @property
    def limits(self) -> Mapping[str, float]:
        """Limit overrides for the episode (``v_max_v``, ``anode_min_v``, ``t_max_k``); empty for none."""
        ...

    def bind(self, target: ControlTarget) -> Policy:
        """This policy bound to ``target`` (call before an episode; a trained model returns itself)."""
        ...

    def done(self, observation: np.ndarray) -> bool:
        """True when the controller has finished (e.g. CC-CV at its cut-off current)."""
        ...

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """Return the action (shape (1,), float32, in [-1, 1]) and the next recurrent state."""
        ...


@dataclass(frozen=True)
class EnvContext:
    """What a baseline needs from the env: feature positions and the action's current scale."""

    features: Mapping[str, int]
    capacity_ah: float
    current_max_a: float
    time_limit_s: float

    @classmethod
    def of(cls, env: ControlTarget) -> EnvContext:
        """Read the context of an unwrapped :class:`~eomctl.charging.env.ChargingEnv`."""
        return cls(
            features={name: i for i, name in enumerate(env.features)},
            capacity_ah=env.cell.capacity_ah,
            current_max_a=env.current_max_a,
            time_limit_s=env.scenario.time_limit_s,
        )

    def read(self, observation: np.ndarray, *names: str) -> float:
        """The first of ``names`` the observation has (e.g. "soc", else the BMS's "soc_estimate")."""
        for name in names:
            if name in self.features:
                return float(np.asarray(observation).ravel()[self.features[name]])
        raise ConfigError(f"the env's observation has none of {list(names)}; it has {list(self.features)}")

    def action(self, current_a: float) -> np.ndarray:
        """The action asking for ``current_a`` amps (clipped to what the env can give)."""
        a = 2.0 * current_a / self.current_max_a - 1.0
        return np.array([np.clip(a, -1.0, 1.0)], dtype=np.float32)
