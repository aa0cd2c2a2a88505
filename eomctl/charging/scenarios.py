"""Charging scenarios: the YAML files in ``envs/`` read into frozen, validated :class:`Scenario` objects.

A scenario says which cell and model to simulate, where an episode starts, what "done" means, which limits hold and how
they are held, how the reward is weighted and what is randomised per episode. Each ``envs/<Name>.yaml`` is registered
with Gymnasium as ``eomctl/<Name>-v0`` by :func:`register_scenarios`.

Data flows one way: YAML -> :func:`scenario_from_dict` (unknown keys and wrongly typed values rejected) ->
:meth:`Scenario.validate` (impossible limits rejected, with the field named) ->
:class:`eomctl.charging.env.ChargingEnv`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import reprlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from eomctl.cell.catalogue import Cell, load_cell
from eomctl.cell.simulator import MODEL_CLASSES, SimulatorConfig
from eomctl.core.constants import KELVIN_OFFSET, SECONDS_PER_HOUR
from eomctl.core.errors import ConfigError, EomctlError
from eomctl.core.resources import scenario_paths

LimitMode = Literal["enforce", "penalise"]
ObservationSet = Literal["full", "bms"]
CONTACT_RESISTANCE = "Contact resistance [Ohm]"
# Lengths that set PyBaMM's mesh: they must be numbers at build time, so they cannot vary per episode.
GEOMETRY_PATTERN = re.compile(
    r"(electrode|Separator|collector) thickness \[m\]|particle radius|Electrode (height|width)"
)


@dataclass(frozen=True)
class Limits:
    """Operating limits. ``None`` switches a limit off; ``v_max_v = None`` means the cell's upper cut-off."""

    v_max_v: float | None = None
    t_max_k: float | None = 318.15  # 45 C: a common cell-maker charge limit
    anode_min_v: float | None = 0.0  # Li plating is thermodynamically possible below 0 V vs Li/Li+ (docs/physics.md §5)


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the reward terms (see :class:`eomctl.charging.env.ChargingEnv`), scales that make them O(0.01-1).

    ``entropy_scale_j_per_k = None`` calibrates it at build: the entropy of one ``dt_s`` step at the maximum C-rate from
    the mid initial SOC and ambient temperature (a full-current step costs ~1). ``lli_scale_pct``: LLI per step [%]."""

    entropy: float = 1.0
    time: float = 0.5
    degradation: float = 1.0
    violation: float = 1.0
    completion: float = 5.0
    incomplete: float = 50.0
    deadline_miss: float = 5.0
    late: float = 1.0
    failure: float = 10.0
    entropy_scale_j_per_k: float | None = None
    lli_scale_pct: float = 0.01


@dataclass(frozen=True)
class AgingRange:
    """A starting aging state drawn uniformly per episode: a factor on the nominal value, or an absolute value."""

    parameter: str
    low: float
    high: float
    relative: bool = True


@dataclass(frozen=True)
class Scenario:
    """One charging task. Ranges are ``(low, high)`` tuples; a fixed value is ``(v, v)``.

    Parameters
    ----------
    name : str
        Scenario name; the Gymnasium id is ``eomctl/<name>-v0``.
    cell : str
        Cell spec for :func:`eomctl.cell.catalogue.load_cell`.
    simulator : SimulatorConfig
        Model options (randomised parameters are added to ``extra_inputs`` by :meth:`simulator_config`).
    dt_s : float
        Control step [s].
    initial_soc, ambient_c : tuple of float
        Start SOC [-] and ambient temperature [C], drawn uniformly per episode.
    target_soc : float
        The episode succeeds when the SOC reaches this.
    c_rate_max : float
        Largest charging current the action can ask for [C].
    time_limit_s : float
        The episode is truncated here.
    deadline_s : tuple of float or None
        The user's deadline [s], drawn per episode; missing it is penalised.
    limits, limit_mode : Limits, {"enforce", "penalise"}
        Limits, held by lowering the current ("enforce") or only penalised when crossed ("penalise").
    observation : {"full", "bms"}
        Observation set.
    reward : RewardWeights
        Reward weights and scales.
    spread : tuple of (str, float)
        Cell-to-cell spread: parameter name and relative standard deviation of a normal factor on its value.
    aging : tuple of AgingRange
        Starting aging state.
    description : str
        One line on what the scenario is for.
    """

    name: str
    cell: str = "LGM50"
    simulator: SimulatorConfig = field(default_factory=SimulatorConfig)
    dt_s: float = 30.0
    initial_soc: tuple[float, float] = (0.1, 0.1)
    target_soc: float = 0.8
    c_rate_max: float = 3.0
    time_limit_s: float = 3600.0
    ambient_c: tuple[float, float] = (25.0, 25.0)
    deadline_s: tuple[float, float] | None = None
    limits: Limits = field(default_factory=Limits)
    limit_mode: LimitMode = "enforce"
    observation: ObservationSet = "full"
    reward: RewardWeights = field(default_factory=RewardWeights)
    spread: tuple[tuple[str, float], ...] = ()
    aging: tuple[AgingRange, ...] = ()
    description: str = ""

    @property
    def randomised(self) -> bool:
        """True when reset draws anything from the episode's random generator."""
        ranges = [self.initial_soc, self.ambient_c, *([self.deadline_s] if self.deadline_s else [])]
        return bool(self.spread or self.aging or any(lo != hi for lo, hi in ranges))

    def simulator_config(self) -> SimulatorConfig:
        """The simulator options with every randomised parameter turned into an input (no rebuild per reset)."""
        names = [name for name, _ in self.spread] + [a.parameter for a in self.aging]
        extra = tuple(dict.fromkeys([*self.simulator.extra_inputs, *names]))
        return dataclasses.replace(self.simulator, extra_inputs=extra)

    def min_charge_time_s(self) -> float:
        """Time to reach the target from the highest initial SOC at the maximum C-rate [s]: a lower bound."""
        return (self.target_soc - self.initial_soc[1]) * SECONDS_PER_HOUR / self.c_rate_max

    def validate(self, cell: Cell | None = None) -> None:
        """Raise :class:`~eomctl.core.errors.ConfigError` naming the field that is impossible or out of range.

        Parameters
        ----------
        cell : Cell, optional
            The scenario's cell, if already loaded (else it is loaded to check limits and parameter names).
        """
        self._validate_numbers()
        if cell is None:
            try:
                cell = load_cell(self.cell)
            except EomctlError as exc:
                raise self._error("cell", str(exc)) from exc
            except OSError as exc:  # load_cell stats a name it does not know: one too long for the file system
                raise self._error("cell", f"{_show(self.cell)} cannot be read: {exc.strerror}") from exc
        self._validate_against(cell)

    def _error(self, field_name: str, message: str) -> ConfigError:
        return ConfigError(f"scenario '{self.name}': field '{field_name}': {message}")

    def _validate_numbers(self) -> None:
        try:
            self.simulator.validate()
        except ConfigError as exc:
            raise self._error("simulator", str(exc)) from exc
        if not self.dt_s > 0:
            raise self._error("dt_s", f"must be positive; got {self.dt_s}")
        self._check_range("initial_soc", self.initial_soc, 0.0, 1.0)
        if not 0.0 < self.target_soc <= 1.0:
            raise self._error("target_soc", f"must lie in (0, 1]; got {self.target_soc}")
        if self.target_soc <= self.initial_soc[1]:
            raise self._error(
                "target_soc", f"{self.target_soc} must exceed the initial SOC (up to {self.initial_soc[1]})"
            )
        if not 0.0 < self.c_rate_max <= 20.0:
            raise self._error("c_rate_max", f"must lie in (0, 20] C; got {self.c_rate_max}")
        fastest_s = self.min_charge_time_s()
        if not self.time_limit_s >= max(self.dt_s, fastest_s):
            raise self._error(
                "time_limit_s", f"{self.time_limit_s} s is shorter than the fastest charge ({fastest_s:.0f} s)"
            )
        if self.deadline_s is not None:
            self._check_range("deadline_s", self.deadline_s, fastest_s, self.time_limit_s)
        self._check_range("ambient_c", self.ambient_c, -40.0, 60.0)
        if self.limit_mode not in ("enforce", "penalise"):
            raise self._error("limit_mode", f"'{self.limit_mode}' is not 'enforce' or 'penalise'")
        if self.observation not in ("full", "bms"):
            raise self._error("observation", f"'{self.observation}' is not 'full' or 'bms'")
        for name, value in dataclasses.asdict(self.reward).items():
            if value is not None and not value >= 0:
                raise self._error(f"reward.{name}", f"must be non-negative; got {value}")
        for name in ("entropy_scale_j_per_k", "lli_scale_pct"):  # scales divide: 0 is not allowed (null calibrates)
            if getattr(self.reward, name) == 0:
                raise self._error(f"reward.{name}", "must be positive")
        self._validate_randomisation_numbers()

    def _check_range(self, field_name: str, bounds: tuple[float, float], low: float, high: float) -> None:
        lo, hi = bounds
        if not low <= lo <= hi <= high:
            raise self._error(field_name, f"range [{lo}, {hi}] must be ordered and lie within [{low:g}, {high:g}]")

    def _validate_randomisation_numbers(self) -> None:
        for name, std in self.spread:
            if not 0.0 <= std < 0.5:
                raise self._error(f"randomisation.spread['{name}']", f"relative std must lie in [0, 0.5); got {std}")
        seen = {name for name, _ in self.spread}
        for a in self.aging:
            where = f"randomisation.aging['{a.parameter}']"
            if a.parameter in seen:
                raise self._error(where, "a parameter may be in spread or aging, not both (or twice)")
            seen.add(a.parameter)
            if not a.low <= a.high or (a.relative and a.low <= 0) or (not a.relative and a.low < 0):
                raise self._error(where, f"range [{a.low}, {a.high}] must be ordered and positive")

    def _validate_against(self, cell: Cell) -> None:
        for name, value in dataclasses.asdict(self.limits).items():  # reset options replace limits unparsed
            if value is not None and not (_is_number(value) and math.isfinite(value)):
                raise self._error(f"limits.{name}", f"expected a finite number or null; got {_show(value)}")
        v_max = self.limits.v_max_v
        if v_max is not None and not cell.v_min_v < v_max <= cell.v_max_v:
            raise self._error(
                "limits.v_max_v", f"{v_max} V lies outside the cell's window ({cell.v_min_v}, {cell.v_max_v}] V"
            )
        hottest_k = self.ambient_c[1] + KELVIN_OFFSET
        if self.limits.t_max_k is not None and not self.limits.t_max_k > hottest_k:
            raise self._error(
                "limits.t_max_k", f"{self.limits.t_max_k} K must exceed the hottest ambient {hottest_k} K"
            )
        anode = self.limits.anode_min_v
        if anode is not None and not -0.2 <= anode <= 0.3:
            raise self._error("limits.anode_min_v", f"{anode} V vs Li is not a plausible plating margin [-0.2, 0.3] V")
        values = cell.parameter_values
        for name in [n for n, _ in self.spread] + [a.parameter for a in self.aging]:
            where = f"randomisation['{name}']"
            if name not in values and not (name == CONTACT_RESISTANCE and self.simulator.contact_resistance):
                raise self._error(where, f"cell '{cell.name}' has no parameter of that name")
            if GEOMETRY_PATTERN.search(name):
                raise self._error(where, "a length that sets the mesh cannot be randomised without a rebuild")
            if not isinstance(values.get(name, 0.0), (int, float)):
                raise self._error(where, "only parameters with a number value can be randomised (this is a function)")
            if any(a.parameter == name and a.relative for a in self.aging) and values.get(name, 0.0) == 0:
                raise self._error(where, "nominal value is 0: give the aging range as 'value', not 'factor'")


# ---------------------------------------------------------------------------------------------------------- parsing
# Every value is checked for its type here, at the edge: YAML hands over whatever the file holds (a string, a list, a
# bool where a number belongs, an int beyond float range, .nan), and a wrong type that reached validation or the
# simulator would surface as a TypeError from deep inside instead of a message naming the field.
_TOP_KEYS = {f.name for f in dataclasses.fields(Scenario)} - {"name", "spread", "aging"} | {"randomisation"}
_SHOW = reprlib.Repr()
_SHOW.maxstring = _SHOW.maxother = 60  # long or deeply nested values are shortened in messages
_SHOW.maxlevel = 3


def _show(raw: Any) -> str:
    return _SHOW.repr(raw)


def _suggest(word: Any, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a close match of a misspelt name, else ``""`` (also for a value that is no name)."""
    close = difflib.get_close_matches(word, sorted(choices), n=1) if isinstance(word, str) else []
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_keys(where: str, raw: Mapping[Any, Any], known: Iterable[str]) -> None:
    known = sorted(known)
    unknown = sorted(set(raw) - set(known), key=str)  # YAML keys may be ints, bools or null: sort by their text
    if unknown:
        prefix = f"field '{where}': " if where else ""
        hint = next((hint for key in unknown if (hint := _suggest(key, known))), "")
        raise ConfigError(f"{prefix}unknown key(s) {_show(unknown)}{hint}; known: {known}")


def _mapping(where: str, raw: Any) -> Mapping[Any, Any]:
    """A YAML mapping; a missing or empty (``null``) block is an empty one."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"field '{where}': expected a mapping; got {_show(raw)}")
    return raw


def _is_number(raw: Any) -> bool:
    return isinstance(raw, (int, float)) and not isinstance(raw, bool)  # YAML's true/false are ints in Python


def _number(where: str, raw: Any) -> float:
    """A finite float: rejects bools, text, nan/inf and integers beyond the range of a float."""
    if not _is_number(raw):
        raise ConfigError(f"field '{where}': expected a number; got {_show(raw)}")
    try:
        value = float(raw)
    except OverflowError:
        raise ConfigError(f"field '{where}': {_show(raw)} is too large for a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"field '{where}': expected a finite number; got {value}")
    return value


def _optional_number(where: str, raw: Any) -> float | None:
    return None if raw is None else _number(where, raw)


def _integer(where: str, raw: Any) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise ConfigError(f"field '{where}': expected a whole number; got {_show(raw)}")
    return raw


def _flag(where: str, raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise ConfigError(f"field '{where}': expected true or false; got {_show(raw)}")
    return raw


def _optional_flag(where: str, raw: Any) -> bool | None:
    return None if raw is None else _flag(where, raw)


def _text(where: str, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"field '{where}': expected a non-empty name; got {_show(raw)}")
    return raw


def _choice(where: str, raw: Any, allowed: Iterable[str]) -> str:
    allowed = sorted(allowed)
    if not isinstance(raw, str) or raw not in allowed:
        raise ConfigError(f"field '{where}': {_show(raw)} is not one of {allowed}{_suggest(raw, allowed)}")
    return raw


def _names(where: str, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)):  # a bare string would otherwise become a tuple of its letters
        raise ConfigError(f"field '{where}': expected a list of parameter names; got {_show(raw)}")
    return tuple(_text(f"{where}[{i}]", name) for i, name in enumerate(raw))


def _mesh_points(where: str, raw: Any) -> tuple[tuple[str, int], ...]:
    return tuple((_text(where, k), _integer(f"{where}.{k}", v)) for k, v in _mapping(where, raw).items())


def _pair(field_name: str, raw: Any) -> tuple[float, float]:
    if _is_number(raw):
        value = _number(field_name, raw)
        return value, value
    if isinstance(raw, (list, tuple)) and len(raw) == 2:
        return _number(f"{field_name}[0]", raw[0]), _number(f"{field_name}[1]", raw[1])
    raise ConfigError(f"field '{field_name}': expected a number or a [low, high] pair; got {_show(raw)}")


Parser = Callable[[str, Any], Any]
_LIMIT_FIELDS: dict[str, Parser] = {f.name: _optional_number for f in dataclasses.fields(Limits)}
_REWARD_FIELDS: dict[str, Parser] = {f.name: _number for f in dataclasses.fields(RewardWeights)} | {
    "entropy_scale_j_per_k": _optional_number  # null: calibrated at build
}
_SIMULATOR_FIELDS: dict[str, Parser] = {
    "model": lambda where, raw: _choice(where, raw, MODEL_CLASSES),
    "thermal": lambda where, raw: _choice(where, raw, ("isothermal", "lumped")),
    "degradation": _flag,
    "loss_of_active_material": _flag,
    "heat_of_mixing": _optional_flag,
    "contact_resistance": _flag,
    "mechanism_split": _flag,
    "compile": _optional_flag,
    "rtol": _number,
    "atol": _number,
    "extra_inputs": _names,
    "var_pts": _mesh_points,
    # how enforced limits are kept: "controller" (one call per step) or "search" (the earlier path, to measure against)
    "limit_control": lambda where, raw: _choice(where, raw, ("controller", "search")),
    "plating_kinetics": lambda where, raw: _choice(where, raw, ("consistent", "pybamm")),
    "few_calls": _flag,
}


def _block(field_name: str, raw: Any, cls: type[Any], parsers: Mapping[str, Parser]) -> Any:
    block = _mapping(field_name, raw)
    _check_keys(field_name, block, parsers)
    return cls(**{key: parsers[key](f"{field_name}.{key}", value) for key, value in block.items()})


def _randomisation(raw: Any) -> tuple[tuple[tuple[str, float], ...], tuple[AgingRange, ...]]:
    block = _mapping("randomisation", raw)
    _check_keys("randomisation", block, ("aging", "spread"))
    spread = tuple(
        (_text("randomisation.spread", name), _number(f"randomisation.spread['{name}']", std))
        for name, std in _mapping("randomisation.spread", block.get("spread")).items()
    )
    aging = []
    for name, spec in _mapping("randomisation.aging", block.get("aging")).items():
        where = f"randomisation.aging['{name}']"
        _text("randomisation.aging", name)
        if not isinstance(spec, Mapping) or len(spec) != 1 or next(iter(spec)) not in ("factor", "value"):
            raise ConfigError(f"field '{where}': expected {{factor: [lo, hi]}} or {{value: [lo, hi]}}")
        kind, bounds = next(iter(spec.items()))
        lo, hi = _pair(where, bounds)
        aging.append(AgingRange(name, lo, hi, relative=kind == "factor"))
    return spread, tuple(aging)


def _fields(data: Mapping[Any, Any]) -> dict[str, Any]:
    """The :class:`Scenario` keyword arguments of a scenario mapping, each checked for its type."""
    _check_keys("", data, _TOP_KEYS)
    kwargs: dict[str, Any] = {}
    if "cell" in data:
        kwargs["cell"] = _text("cell", data["cell"])
    if data.get("description") is not None:  # an empty "description:" is no description
        if not isinstance(data["description"], str):
            raise ConfigError(f"field 'description': expected text; got {_show(data['description'])}")
        kwargs["description"] = data["description"]
    for key in ("dt_s", "target_soc", "c_rate_max", "time_limit_s"):
        if key in data:
            kwargs[key] = _number(key, data[key])
    for key in ("initial_soc", "ambient_c"):
        if key in data:
            kwargs[key] = _pair(key, data[key])
    if data.get("deadline_s") is not None:
        kwargs["deadline_s"] = _pair("deadline_s", data["deadline_s"])
    if "limit_mode" in data:
        kwargs["limit_mode"] = _choice("limit_mode", data["limit_mode"], ("enforce", "penalise"))
    if "observation" in data:
        kwargs["observation"] = _choice("observation", data["observation"], ("full", "bms"))
    kwargs["simulator"] = _block("simulator", data.get("simulator"), SimulatorConfig, _SIMULATOR_FIELDS)
    kwargs["limits"] = _block("limits", data.get("limits"), Limits, _LIMIT_FIELDS)
    kwargs["reward"] = _block("reward", data.get("reward"), RewardWeights, _REWARD_FIELDS)
    kwargs["spread"], kwargs["aging"] = _randomisation(data.get("randomisation"))
    return kwargs


def scenario_from_dict(name: str, data: Mapping[str, Any]) -> Scenario:
    """Build a :class:`Scenario` from a parsed YAML mapping (not yet validated: call :meth:`Scenario.validate`).

    Raises
    ------
    ConfigError
        For an unknown key or a value of the wrong type, naming the scenario and the field.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"scenario '{name}': expected a mapping of fields; got {_show(data)}")
    try:
        return Scenario(name=name, **_fields(data))
    except ConfigError as exc:
        raise ConfigError(f"scenario '{name}': {exc}") from None


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long for the file system: not a file, so it is looked up as a scenario name
        return False


def load_scenario(spec: str | Path, overrides: Mapping[str, Any] | None = None, cell: Cell | None = None) -> Scenario:
    """Read, override and validate a scenario.

    Parameters
    ----------
    spec : str or Path
        A scenario name ("FastCharge"), a Gymnasium id ("eomctl/FastCharge-v0") or a path to a YAML file.
    overrides : mapping, optional
        Entries merged into the file's mapping before validation, nested blocks key by key,
        e.g. ``{"simulator": {"compile": False}, "deadline_s": None}``.
    cell : Cell, optional
        The scenario's cell if already loaded (saves loading it again to validate).

    Raises
    ------
    ConfigError
        For an unknown scenario name, an unreadable or malformed file, an unknown key, a value of the wrong type or
        out of range; the message names the scenario (the file's stem) and the field.
    """
    text = str(spec)
    path = Path(text)
    if not (text.endswith((".yaml", ".yml")) or _is_file(path)):
        name = text.removeprefix("eomctl/").removesuffix("-v0")
        paths = scenario_paths()
        if name not in paths:
            raise ConfigError(f"unknown scenario '{text}'{_suggest(name, paths)}; known: {sorted(paths)}")
        path = paths[name]
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except RecursionError:  # the YAML parser recurses once per nesting level
        raise ConfigError(f"cannot read scenario file '{path}': nested too deeply") from None
    # ValueError: bytes that are not UTF-8, or a scalar YAML resolves but cannot build (a date 2024-13-45, an int of
    # more than 4300 digits).
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read scenario file '{path}': {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"scenario file '{path}' must hold a mapping of fields; got {_show(data)}")
    scenario = scenario_from_dict(path.stem, _merge(dict(data), overrides or {}))
    scenario.validate(cell)
    return scenario
