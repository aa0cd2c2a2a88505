"""Baseline chargers as policies with stable-baselines3's ``predict`` interface, and :func:`parse_policy`.

One evaluation path (:mod:`eomctl.evaluation`) serves a hand-written controller and a trained agent: both answer
``predict(observation, state, episode_start, deterministic) -> (action, state)`` with the env's action
``a = 2 I / I_max - 1`` in [-1, 1]. Before an episode the harness calls ``policy.bind(env.unwrapped)`` (the baseline
learns where each feature sits in the observation and how amps map to actions) and resets the env with
``options={"limits": policy.limits}``: the env's enforced limits then turn a constant current into the discrete-time
CV taper (``v_max_v``) or the constant-anode-potential phase of CC-CO (``anode_min_v``). A baseline may also say it is
done (``done(observation)``), e.g. CC-CV once the current has tapered to its cut-off.

Specs (:func:`parse_policy`): ``cccv:rate=1C,vmax=4.2,cutoff=C/20``, ``multistage:rates=3C/2C/1C,switch_soc=0.3/0.5``
(or ``switch_v=4.0/4.1``), ``boost:boost=3C,boost_until_soc=0.3,rate=1C``, ``pulse:rate=2C,on_s=60,off_s=30``,
``cp:power_w=15,vmax=4.2``, ``ccco:rate=2C,margin=0.01``, or a path to a stable-baselines3 ``.zip``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from eomctl.errors import ConfigError

if TYPE_CHECKING:
    from eomctl.env import ChargingEnv

V_REACHED_TOL_V = 5e-3  # a CV phase has begun once the measured voltage is this close to its set point


@runtime_checkable
class Policy(Protocol):
    """Anything with stable-baselines3's ``predict``: a baseline charger or a trained agent."""

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
    def of(cls, env: ChargingEnv) -> EnvContext:
        """Read the context of an unwrapped :class:`~eomctl.env.ChargingEnv`."""
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


@dataclass(frozen=True)
class Rate:
    """A charging current given as a C-rate (``"1C"``, ``"C/20"``) or in amps (``"2A"``)."""

    value: float
    unit: str = "C"  # "C" or "A"

    def amps(self, capacity_ah: float) -> float:
        """The current in amps for a cell of ``capacity_ah``."""
        return self.value * capacity_ah if self.unit == "C" else self.value

    def __str__(self) -> str:
        return f"{self.value:g}{self.unit}"


@dataclass(frozen=True)
class Baseline:
    """Common behaviour of the baseline chargers: binding to an env, limits, stopping at a cut-off current."""

    context: EnvContext | None = field(default=None, repr=False, compare=False, kw_only=True)

    @property
    def limits(self) -> dict[str, float]:
        """Limit overrides for the env's reset (``options={"limits": ...}``)."""
        return {}

    def bind(self, env: ChargingEnv) -> Baseline:
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
        if bool(self.switch_soc) == bool(self.switch_v) or len(thresholds) != len(self.rates) - 1:
            raise ConfigError(
                f"{type(self).__name__}: give {len(self.rates) - 1} thresholds in exactly one of switch_soc / switch_v"
            )
        if list(thresholds) != sorted(thresholds):
            raise ConfigError(f"{type(self).__name__}: switch thresholds must increase; got {list(thresholds)}")

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


@dataclass(frozen=True)
class Boost(Multistage):
    """CC-CV with a boost stage: ``boost`` until ``boost_until_soc``, then ``rate``, CV at ``vmax`` to ``cutoff``."""

    boost: Rate = Rate(3.0)
    boost_until_soc: float = 0.3
    rate: Rate = Rate(1.0)
    cutoff: Rate | None = Rate(0.05)

    def __post_init__(self) -> None:
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

    @property
    def limits(self) -> dict[str, float]:
        return {"v_max_v": self.vmax}

    def current_a(self, observation: np.ndarray, state: Any) -> tuple[float, Any]:
        ctx = self.ctx
        # Rounded to 10 ms: the float32 observation carries ~0.2 ms of error at one hour.
        time_s = round(ctx.read(observation, "time_used_frac") * ctx.time_limit_s, 2)
        on = time_s % (self.on_s + self.off_s) < self.on_s
        return (self.rate.amps(ctx.capacity_ah) if on else 0.0), state


@dataclass(frozen=True)
class ConstantPower(Baseline):
    """Constant power in discrete time: each step's current is ``power_w`` over the measured voltage; CV at ``vmax``.

    The voltage is the last step's end value, so the step's mean power is a little above ``power_w`` (the voltage
    rises within the step): 0.1-0.3 % at 30 s steps, ~4 % on the first step, sized on the rest voltage.
    """

    power_w: float = 15.0
    vmax: float = 4.2

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


@dataclass(frozen=True)
class TrainedPolicy:
    """A trained stable-baselines3 model behind the same interface as the baselines."""

    path: str
    model: Any = field(repr=False, compare=False)
    limits: Mapping[str, float] = field(default_factory=dict)

    def bind(self, env: ChargingEnv) -> TrainedPolicy:
        """Nothing to bind: the model reads the observation as it was trained to."""
        return self

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """The model's action (as float32, shape (1,)) and its recurrent state."""
        action, state = self.model.predict(
            observation, state=state, episode_start=episode_start, deterministic=deterministic
        )
        return np.asarray(action, dtype=np.float32).reshape(1), state


def policy_spec(policy: Any) -> str:
    """A readable name: the spec a baseline parses back from, a model's path, else the type name."""
    if isinstance(policy, str):
        return policy
    if isinstance(policy, TrainedPolicy):
        return policy.path
    for name, (cls, parsers) in _FIELDS.items():
        if type(policy) is cls:
            values = {key: getattr(policy, key) for key in parsers}
            return f"{name}:" + ",".join(f"{k}={_format(v)}" for k, v in values.items() if v not in ((), None))
    return type(policy).__name__


def _format(value: Any) -> str:
    if isinstance(value, tuple):
        return "/".join(_format(v) for v in value)
    return str(value) if isinstance(value, Rate) else f"{value:g}"


# ------------------------------------------------------------------------------------------------------ parsing
_RATE = re.compile(r"^\s*(?:(\d*\.?\d+(?:e-?\d+)?)\s*C|C\s*/\s*(\d*\.?\d+)|(\d*\.?\d+(?:e-?\d+)?)\s*A)\s*$", re.I)


def parse_rate(text: str, where: str = "rate") -> Rate:
    """Parse a C-rate ("1C", "0.5C", "C/20") or a current in amps ("2A")."""
    match = _RATE.match(text)
    if not match:
        raise ConfigError(f"{where} must be a C-rate like 1C, C/20 or a current like 2A, got '{text}'")
    c_rate, divisor, amps = match.groups()
    rate = Rate(float(c_rate)) if c_rate else Rate(1.0 / float(divisor)) if divisor else Rate(float(amps or 0), "A")
    if not rate.value > 0:
        raise ConfigError(f"{where} must be positive, got '{text}'")
    return rate


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{where} must be a number, got '{text}'") from None


def _rates(text: str, where: str) -> tuple[Rate, ...]:
    return tuple(parse_rate(t, where) for t in text.split("/"))


def _numbers(text: str, where: str) -> tuple[float, ...]:
    return tuple(_number(t, where) for t in text.split("/"))


# Per protocol: its class and, per key, how to parse the value (C/20 holds a "/", so rate lists use "/" too).
_FIELDS: dict[str, tuple[type[Baseline], dict[str, Callable[[str, str], Any]]]] = {
    "cccv": (CCCV, {"rate": parse_rate, "vmax": _number, "cutoff": parse_rate}),
    "multistage": (
        Multistage,
        {"rates": _rates, "switch_soc": _numbers, "switch_v": _numbers, "vmax": _number, "cutoff": parse_rate},
    ),
    "boost": (
        Boost,
        {"boost": parse_rate, "boost_until_soc": _number, "rate": parse_rate, "vmax": _number, "cutoff": parse_rate},
    ),
    "pulse": (Pulse, {"rate": parse_rate, "on_s": _number, "off_s": _number, "vmax": _number}),
    "cp": (ConstantPower, {"power_w": _number, "vmax": _number}),
    "ccco": (CCCO, {"rate": parse_rate, "margin": _number}),
}


def parse_policy(spec: str) -> Policy:
    """A policy from a spec ``"<protocol>:key=value,..."`` or the path of a stable-baselines3 ``.zip``.

    Raises
    ------
    ConfigError
        For an unknown protocol or key, or a value that does not parse, naming it.
    """
    if spec.endswith(".zip") or Path(spec).is_file():
        # A trained model with the observation normalisation it was trained with (found beside it by name).
        from eomctl.rollout import load_agent

        return load_agent(spec)  # type: ignore[no-any-return]
    name, _, body = spec.partition(":")
    name = name.strip().lower()
    if name not in _FIELDS:
        raise ConfigError(f"unknown protocol '{name}'; choose one of {sorted(_FIELDS)} or a model .zip")
    cls, parsers = _FIELDS[name]
    kwargs: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in body.split(","))):
        key, eq, value = (s.strip() for s in item.partition("="))
        if key not in parsers:
            raise ConfigError(f"{name}: unknown key '{key}'; known: {sorted(parsers)}")
        if not eq or not value:
            raise ConfigError(f"{name}: '{key}' needs a value (key=value)")
        kwargs[key] = parsers[key](value, f"{name}: '{key}'")
    return cls(**kwargs)


# (module, class, the word its policy classes' module holds): PPO and A2C share "common.policies", so no word.
_ALGORITHMS = (
    ("stable_baselines3", "PPO", "-"),
    ("stable_baselines3", "SAC", ".sac."),
    ("stable_baselines3", "TD3", ".td3."),
    ("stable_baselines3", "A2C", "-"),
    ("stable_baselines3", "DDPG", ".td3."),
    ("sb3_contrib", "TQC", ".tqc."),
    ("sb3_contrib", "RecurrentPPO", "recurrent"),
)


def _algorithm_hint(path: Path) -> str:
    """The module of the policy class stored in the zip's "data" (e.g. "stable_baselines3.sac.policies")."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
        return str(data.get("policy_class", {}).get("__module__", "")).lower()
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return ""


def load_trained(path: str | Path) -> TrainedPolicy:
    """Load a stable-baselines3 / sb3-contrib model, trying first the algorithm its stored policy class names."""
    import importlib

    target = Path(path)
    if not target.is_file():
        raise ConfigError(f"model file '{path}' not found")
    hint = _algorithm_hint(target)
    order = sorted(_ALGORITHMS, key=lambda entry: entry[2] not in hint)  # the hinted algorithm(s) first
    errors = []
    for module, name, _ in order:
        try:
            algorithm = getattr(importlib.import_module(module), name)
            return TrainedPolicy(str(target), algorithm.load(str(target), device="cpu"))
        except Exception as exc:  # any failure means "not this algorithm": try the next
            errors.append(f"{name}: {type(exc).__name__}")
    raise ConfigError(f"cannot load '{path}' as a stable-baselines3 model ({'; '.join(errors)})")
