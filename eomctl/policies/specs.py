"""Policies by name: ``cccv:rate=1C,vmax=4.2,cutoff=C/20``, ``multistage:rates=3C/2C/1C,switch_soc=0.3/0.5`` (or
``switch_v=4.0/4.1``), ``boost:boost=3C,boost_until_soc=0.3,rate=1C``, ``pulse:rate=2C,on_s=60,off_s=30``,
``cp:power_w=15,vmax=4.2``, ``ccco:rate=2C,margin=0.01``, ``derated:rates=2C,table=jeita`` (or
``rates=3C/2C/1C,switch_soc=0.3/0.5``: :mod:`eomctl.policies.derating`),
``mpc:rate=2C,horizon_s=600,replan_s=60,objective=entropy,state=oracle`` (:mod:`eomctl.policies.mpc`), or the path
of a trained model (``.zip``) or run folder; and back (:func:`policy_spec`)."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from eomctl.core.errors import ConfigError
from eomctl.policies.baselines import (
    CCCO,
    CCCV,
    Baseline,
    Boost,
    ConstantPower,
    Derated,
    Multistage,
    Pulse,
    Rate,
    shortest,
)
from eomctl.policies.mpc import MPC
from eomctl.policies.protocol import Policy
from eomctl.policies.trained import TrainedPolicy, is_model_path, load_agent


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
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        return "/".join(_format(v) for v in value)
    return str(value) if isinstance(value, Rate) else shortest(value)


# ------------------------------------------------------------------------------------------------------ parsing
_RATE = re.compile(r"^\s*(?:(\d*\.?\d+(?:e-?\d+)?)\s*C|C\s*/\s*(\d*\.?\d+)|(\d*\.?\d+(?:e-?\d+)?)\s*A)\s*$", re.I)


def parse_rate(text: str, where: str = "rate") -> Rate:
    """Parse a C-rate ("1C", "0.5C", "C/20") or a current in amps ("2A").

    Raises
    ------
    ConfigError
        For text that is no rate, or a rate that is not positive and finite ("0C", "C/0", "1e999C").
    """
    match = _RATE.match(text)
    if not match:
        raise ConfigError(f"{where} must be a C-rate like 1C, C/20 or a current like 2A, got '{text}'")
    c_rate, divisor, amps = match.groups()
    if divisor is not None and not float(divisor) > 0:  # C/0 would divide by zero
        raise ConfigError(f"{where} must be positive, got '{text}'")
    rate = Rate(float(c_rate)) if c_rate else Rate(1.0 / float(divisor)) if divisor else Rate(float(amps or 0), "A")
    if not rate.value > 0:
        raise ConfigError(f"{where} must be positive, got '{text}'")
    if not math.isfinite(rate.value):  # "1e999C" overflows to inf, as does C/ over a tiny divisor
        raise ConfigError(f"{where} must be finite, got '{text}'")
    return rate


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{where} must be a number, got '{text}'") from None
    if not math.isfinite(value):  # float() reads "nan", "inf" and overflows "1e999" to inf
        raise ConfigError(f"{where} must be a finite number, got '{text}'")
    return value


def _word(text: str, where: str) -> str:
    return text.strip().lower()


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
    "derated": (
        Derated,
        {"rates": _rates, "switch_soc": _numbers, "table": _word, "vmax": _number, "cutoff": parse_rate},
    ),
    "mpc": (
        MPC,
        {
            "rate": parse_rate,
            "horizon_s": _number,
            "replan_s": _number,
            "objective": _word,
            "weight": _number,
            "state": _word,
        },
    ),
}


def parse_policy(spec: str, best: bool = False) -> Policy:
    """A policy from a spec ``"<protocol>:key=value,..."``, or a trained model's ``.zip`` or run folder.

    Parameters
    ----------
    spec : str
        Baseline spec (see the module docstring) or the path of a model or run folder.
    best : bool
        For a run folder: its best evaluated model instead of the final one.

    Raises
    ------
    ConfigError
        For an unknown protocol or key, or a value that does not parse, naming it.
    """
    if not spec.strip():  # Path("") is ".", which would be tried as a run folder
        raise ConfigError(f"empty policy spec '{spec}'; give e.g. 'cccv:rate=1C' ({sorted(_FIELDS)}) or a model .zip")
    if is_model_path(spec):
        # A trained model with the observation normalisation it was trained with (found beside it by name).
        return load_agent(spec, best=best)
    name, _, body = spec.partition(":")
    name = name.strip().lower()
    if name not in _FIELDS:
        raise ConfigError(
            f"unknown protocol '{name}'; choose one of {sorted(_FIELDS)} or a model .zip{_suggest(name, _FIELDS)}; "
            f"policy given: '{spec}'"
        )
    cls, parsers = _FIELDS[name]
    kwargs: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in body.split(","))):
        key, eq, value = (s.strip() for s in item.partition("="))
        if key not in parsers:
            raise ConfigError(f"{name}: unknown key '{key}'{_suggest(key, parsers)}; known: {sorted(parsers)}")
        if not eq or not value:
            raise ConfigError(f"{name}: '{key}' needs a value (key=value)")
        if key in kwargs:  # the later value would silently win
            raise ConfigError(f"{name}: '{key}' is given twice")
        kwargs[key] = parsers[key](value, f"{name}: '{key}'")
    return cls(**kwargs)


def _suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a close match of a misspelt name, else ``""``."""
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
