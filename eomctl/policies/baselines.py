"""Baseline chargers as :class:`~eomctl.policies.protocol.Policy` objects: CC-CV, multistage, boost, pulse,
constant power, temperature-derated CC-CV / multistage and CC-CO, each asking for a current that the env's enforced
limits turn into its CV (or constant anode potential) phase."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eomctl.core.constants import KELVIN_OFFSET
from eomctl.core.errors import ConfigError
from eomctl.policies.derating import derating_table
from eomctl.policies.protocol import ControlTarget, EnvContext

V_REACHED_TOL_V = 5e-3  # a CV phase has begun once the measured voltage is this close to its set point


def shortest(value: float) -> str:
    """The shortest text that reads back as exactly ``value``: ``:g`` where that is exact ("4.2", "1e-05"), else
    ``repr`` (``:g`` keeps 6 digits, so a spec written from a policy would otherwise parse back as another one)."""
    text = f"{value:g}"
    return text if float(text) == value else repr(float(value))


@dataclass(frozen=True)
class Rate:
    """A charging current given as a C-rate (``"1C"``, ``"C/20"``) or in amps (``"2A"``)."""

    value: float
    unit: str = "C"  # "C" or "A"

    def amps(self, capacity_ah: float) -> float:
        """The current in amps for a cell of ``capacity_ah``."""
        return self.value * capacity_ah if self.unit == "C" else self.value

    def __str__(self) -> str:
        return f"{shortest(self.value)}{self.unit}"


@dataclass(frozen=True)
class Phase:
    """One phase of a known charging protocol, as a whole-phase runner executes it (see :meth:`Baseline.phases`).

    The phase charges at up to ``current_a`` under the charge's limits (the policy's own and the scenario's: the
    current tapers to hold the first one reached, as the env's enforced limits make it) until the current falls to
    ``cutoff_a``, the SOC reaches ``until_soc`` or ``duration_s`` has passed; 0 A is a rest of ``duration_s``.
    """

    current_a: float
    until_soc: float = math.inf
    cutoff_a: float = 0.0
    duration_s: float = math.inf


@dataclass(frozen=True)
class Baseline:
    """Common behaviour of the baseline chargers: binding to an env, limits, stopping at a cut-off current."""

    context: EnvContext | None = field(default=None, repr=False, compare=False, kw_only=True)

    @property
    def limits(self) -> dict[str, float]:
        """Limit overrides for the env's reset (``options={"limits": ...}``)."""
        return {}

    def _require(self, name: str, ok: bool, allowed: str) -> None:
        """Raise :class:`ConfigError` naming field ``name`` and what it may be unless ``ok``."""
        if not ok:
            raise ConfigError(f"{type(self).__name__}: '{name}' must be {allowed}; got {getattr(self, name)!r}")

    def bind(self, env: ControlTarget) -> Baseline:
        """A copy of this policy bound to ``env`` (call before an episode)."""
        return dataclasses.replace(self, context=EnvContext.of(env))

    @property
    def ctx(self) -> EnvContext:
        """The bound env context (raises if :meth:`bind` was not called)."""
        if self.context is None:
            raise ConfigError(f"{type(self).__name__}: call bind(env.unwrapped) before predict()")
        return self.context

    def current_a(self, observation: np.ndarray, state: Any) -> tuple[float, Any]:
        """The current to ask for [A] and the next state; overridden by each baseline."""
        raise NotImplementedError

    def phases(self, capacity_ah: float) -> Iterator[Phase] | None:
        """The protocol as whole phases, for runners that integrate a phase in one go (the lifetime engine), or None
        when it can only run step by step (its current depends on measurements, e.g. constant power).

        The phases switch exactly at their thresholds, where the control-step path switches at the first step end
        past them; otherwise they are the same protocol under the same limits.
        """
        return None

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """SB3-style prediction: the action for the current this baseline asks for, and its state."""
        if episode_start is not None and bool(np.asarray(episode_start).ravel()[0]):
            state = None
        current_a, state = self.current_a(observation, state)
        return self.ctx.action(current_a), state

    def done(self, observation: np.ndarray) -> bool:
        """True when the charger has finished (its current tapered to the cut-off at its CV voltage)."""
        cutoff: Rate | None = getattr(self, "cutoff", None)
        vmax_v: float | None = getattr(self, "vmax", None)
        if cutoff is None or vmax_v is None:
            return False
        ctx = self.ctx
        voltage_v = ctx.read(observation, "voltage_v")
        current_a = ctx.read(observation, "c_rate") * ctx.capacity_ah
        return voltage_v >= vmax_v - V_REACHED_TOL_V and current_a <= cutoff.amps(ctx.capacity_ah)


@dataclass(frozen=True)
class CCCV(Baseline):
    """Constant current ``rate``, then constant voltage ``vmax`` (the env's enforced limit) down to ``cutoff``."""

    rate: Rate = Rate(1.0)
    vmax: float = 4.2
    cutoff: Rate | None = Rate(0.05)

    @property
    def limits(self) -> dict[str, float]:
        return {"v_max_v": self.vmax}

    def current_a(self, observation: np.ndarray, state: Any) -> tuple[float, Any]:
        return self.rate.amps(self.ctx.capacity_ah), state

    def phases(self, capacity_ah: float) -> Iterator[Phase]:
        cutoff_a = self.cutoff.amps(capacity_ah) if self.cutoff is not None else 0.0
        return iter([Phase(self.rate.amps(capacity_ah), cutoff_a=cutoff_a)])


@dataclass(frozen=True)
class Multistage(Baseline):
    """Step currents ``rates`` switching down at SOC (``switch_soc``) or voltage (``switch_v``) thresholds, then CV.

    Attia et al. 2020 (Nature 578:397). With SOC thresholds the stage follows the measured SOC; with voltage thresholds
    the stage only advances (the state carries it), since the voltage drops when the current does.
    """

    rates: tuple[Rate, ...] = (Rate(3.0), Rate(2.0), Rate(1.0))
    switch_soc: tuple[float, ...] = ()
    switch_v: tuple[float, ...] = ()
    vmax: float = 4.2
    cutoff: Rate | None = None

    def __post_init__(self) -> None:
        thresholds = self.switch_soc or self.switch_v
        if len(self.rates) < 2:  # one stage is CC-CV: there would be no threshold to give
            raise ConfigError(f"{type(self).__name__}: give at least 2 rates (one rate is cccv); got {len(self.rates)}")
        if bool(self.switch_soc) == bool(self.switch_v) or len(thresholds) != len(self.rates) - 1:
            raise ConfigError(
                f"{type(self).__name__}: give {len(self.rates) - 1} thresholds in exactly one of switch_soc / switch_v"
            )
        if list(thresholds) != sorted(thresholds):
            raise ConfigError(f"{type(self).__name__}: switch thresholds must increase; got {list(thresholds)}")
        # The SOC runs from 0 to 1: a threshold outside (0, 1) is a stage that never (or always) runs.
        self._require("switch_soc", all(0.0 < soc < 1.0 for soc in self.switch_soc), "SOCs in (0, 1)")
        self._require("switch_v", all(0.0 < v < math.inf for v in self.switch_v), "positive finite voltages")

    @property
    def limits(self) -> dict[str, float]:
        return {"v_max_v": self.vmax}

    def current_a(self, observation: np.ndarray, state: Any) -> tuple[float, Any]:
        ctx = self.ctx
        if self.switch_soc:
            soc = ctx.read(observation, "soc", "soc_estimate")
            stage = int(np.searchsorted(self.switch_soc, soc, side="right"))
        else:
            passed = int(np.searchsorted(self.switch_v, ctx.read(observation, "voltage_v"), side="right"))
            stage = max(passed, int(np.asarray(state).ravel()[0]) if state is not None else 0)
            state = np.array([stage])
        return self.rates[stage].amps(ctx.capacity_ah), state

    def phases(self, capacity_ah: float) -> Iterator[Phase] | None:
        if self.switch_v:
            # A stage that ends at a voltage would end early wherever another limit (temperature) tapers the
            # current first; these run step by step.
            return None
        cutoff_a = self.cutoff.amps(capacity_ah) if self.cutoff is not None else 0.0
        switches = zip(self.rates[:-1], self.switch_soc, strict=True)
        stages = [Phase(rate.amps(capacity_ah), until_soc=soc) for rate, soc in switches]
        return iter([*stages, Phase(self.rates[-1].amps(capacity_ah), cutoff_a=cutoff_a)])


@dataclass(frozen=True)
class Boost(Multistage):
    """CC-CV with a boost stage: ``boost`` until ``boost_until_soc``, then ``rate``, CV at ``vmax`` to ``cutoff``."""

    boost: Rate = Rate(3.0)
    boost_until_soc: float = 0.3
    rate: Rate = Rate(1.0)
    cutoff: Rate | None = Rate(0.05)

    def __post_init__(self) -> None:
        self._require("boost_until_soc", 0.0 < self.boost_until_soc < 1.0, "an SOC in (0, 1)")
        object.__setattr__(self, "rates", (self.boost, self.rate))
        object.__setattr__(self, "switch_soc", (self.boost_until_soc,))
        object.__setattr__(self, "switch_v", ())
        super().__post_init__()


@dataclass(frozen=True)
class Pulse(Baseline):
    """Pulsed charging: ``rate`` for ``on_s`` seconds, rest for ``off_s``, timed by the observation's time used."""

    rate: Rate = Rate(2.0)
    on_s: float = 60.0
    off_s: float = 30.0
    vmax: float = 4.2

    def __post_init__(self) -> None:
        # A period on_s + off_s of zero would divide by zero at the first step.
        self._require("on_s", 0.0 < self.on_s < math.inf, "a positive finite time [s]")
        self._require("off_s", 0.0 <= self.off_s < math.inf, "a non-negative finite time [s]")

    @property
    def limits(self) -> dict[str, float]:
        return {"v_max_v": self.vmax}

    def current_a(self, observation: np.ndarray, state: Any) -> tuple[float, Any]:
        ctx = self.ctx
        # Rounded to 10 ms: the float32 observation carries ~0.2 ms of error at one hour.
        time_s = round(ctx.read(observation, "time_used_frac") * ctx.time_limit_s, 2)
        on = time_s % (self.on_s + self.off_s) < self.on_s
        return (self.rate.amps(ctx.capacity_ah) if on else 0.0), state

    def phases(self, capacity_ah: float) -> Iterator[Phase]:
        on, off = Phase(self.rate.amps(capacity_ah), duration_s=self.on_s), Phase(0.0, duration_s=self.off_s)
        while True:  # until the runner's target SOC or time limit
            yield on
            if self.off_s > 0:
                yield off


@dataclass(frozen=True)
class ConstantPower(Baseline):
    """Constant power in discrete time: each step's current is ``power_w`` over the measured voltage; CV at ``vmax``.

    The voltage is the last step's end value, so the step's mean power is a little above ``power_w`` (the voltage
    rises within the step): 0.1-0.3 % at 30 s steps, ~4 % on the first step, sized on the rest voltage.
    """

    power_w: float = 15.0
    vmax: float = 4.2

    def __post_init__(self) -> None:
        self._require("power_w", 0.0 < self.power_w < math.inf, "a positive finite charging power [W]")

    @property
    def limits(self) -> dict[str, float]:
        return {"v_max_v": self.vmax}

    def current_a(self, observation: np.ndarray, state: Any) -> tuple[float, Any]:
        return self.power_w / max(self.ctx.read(observation, "voltage_v"), 1.0), state


@dataclass(frozen=True)
class CCCO(Baseline):
    """Constant current, then constant anode potential: the env holds the plating margin ``margin`` V vs Li/Li+."""

    rate: Rate = Rate(2.0)
    margin: float = 0.01

    @property
    def limits(self) -> dict[str, float]:
        return {"anode_min_v": self.margin}

    def current_a(self, observation: np.ndarray, state: Any) -> tuple[float, Any]:
        return self.rate.amps(self.ctx.capacity_ah), state

    def phases(self, capacity_ah: float) -> Iterator[Phase]:
        return iter([Phase(self.rate.amps(capacity_ah))])


@dataclass(frozen=True)
class Derated(Multistage):
    """CC-CV (one rate) or multistage (several, switching at ``switch_soc``) with each stage's current scaled by a
    derating table of cell temperature and SOC (:mod:`eomctl.policies.derating`), as a charger with a thermistor and
    a coulomb counter runs it: what a BMS can implement, unlike CC-CO, which needs the anode potential.

    The current is re-read from the table every control step, so it rises as the cell warms itself.
    """

    rates: tuple[Rate, ...] = (Rate(1.0),)
    table: str = "jeita"
    cutoff: Rate | None = Rate(0.05)

    def __post_init__(self) -> None:
        derating_table(self.table)  # the clear error for an unknown name, at parse time
        if len(self.rates) > 1 or self.switch_soc or self.switch_v:
            self._require("switch_v", not self.switch_v, "empty: derated stages switch at switch_soc")
            super().__post_init__()

    def current_a(self, observation: np.ndarray, state: Any) -> tuple[float, Any]:
        ctx = self.ctx
        soc = ctx.read(observation, "soc", "soc_estimate")
        stage = int(np.searchsorted(self.switch_soc, soc, side="right"))
        temperature_c = ctx.read(observation, "temperature_k") - KELVIN_OFFSET
        fraction = derating_table(self.table).fraction(temperature_c, soc)
        return fraction * self.rates[stage].amps(ctx.capacity_ah), state

    def phases(self, capacity_ah: float) -> Iterator[Phase] | None:
        return None  # the current follows the measured temperature: step by step only
