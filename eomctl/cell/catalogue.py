"""Cell catalogue: named, cited PyBaMM parameter sets and user cell files, validated before use.

A cell is found by name (a built-in catalogue cell or any PyBaMM lithium-ion parameter set, case-insensitive) or by
path: a BPX ``.json`` file, a ``.yaml``/``.yml``/``.json`` file in eomctl's own format (a ``base`` cell plus
``overrides``; ``eomctl/data/cells/a123_lfp.yaml`` is a commented example) or a ``.py`` module exposing
``get_parameter_values()``. Every error a user can cause is raised as an :class:`~eomctl.core.errors.EomctlError`.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import functools
import importlib.util
import json
import os
import re
import warnings
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pybamm
import yaml

from eomctl.cell import plating
from eomctl.core.errors import CellFileError, MissingParameterError, NonPhysicalParameterError, UnknownCellError
from eomctl.core.resources import DATA_DIR

_DATA_DIR = DATA_DIR / "cells"
_BUILTIN_FILES = {"LGM50": "lgm50.yaml", "A123-LFP": "a123_lfp.yaml"}
_SUFFIXES = (".json", ".yaml", ".yml", ".py")
_USER_KEYS = {"base", "name", "chemistry", "source", "overrides", "sei_option", "plating_option", "heat_of_mixing"}
_INPUT_NAMES = ("Current function [A]",)
# Preferred option values, most physical first; a cell gets the first one its parameters fully support.
_SEI_PREFERENCE = (
    "solvent-diffusion limited",
    "reaction limited",
    "ec reaction limited",
    "interstitial-diffusion limited",
    "electron-migration limited",
)
_PLATING_PREFERENCE = ("partially reversible", "irreversible", "reversible")
# Heat of mixing verified only for Chen2020 (docs/physics.md §7, pitfall 2). OKane2022's cubic-spline graphite OCP
# makes PyBaMM 26.10 fail to build the Jacobian with it; the LGM50 catalogue cell swaps in Chen2020's analytic OCP.
_HEAT_OF_MIXING_OK = {"Chen2020"}
# Plain numbers whose names match must be > 0 (_POSITIVE) or lie in (0, 1) (_FRACTION).
_POSITIVE = re.compile(
    r"(thickness|radius|height|width) \[m\]$|\[m2\]$|capacity \[A\.h\]$|^Maximum concentration|"
    r"diffusivity \[m2\.s-1\]$|conductivity \[(S\.m-1|W\.m-1\.K-1)\]$|volume \[m3\]$|density \[kg\.m-3\]$|"
    r"specific heat capacity|temperature \[K\]$",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
# Porosity 1 is allowed: PyBaMM's Marquis2019 ships a separator porosity of 1.0.
_FRACTION = re.compile(r"porosity$|active material volume fraction$", re.IGNORECASE)


@dataclass(frozen=True)
class Cell:
    """A parameterised cell, ready to hand to a PyBaMM model.

    Attributes
    ----------
    name : str
        Catalogue name, PyBaMM parameter-set name or cell-file name.
    chemistry : str
        Positive / negative electrode materials, e.g. ``"LFP / graphite"``.
    source : str
        Citation(s) of the parameter values.
    parameter_values : pybamm.ParameterValues
        Shared, not copied: call ``parameter_values.copy()`` before mutating it.
    v_min_v, v_max_v : float
        "Lower voltage cut-off [V]" and "Upper voltage cut-off [V]".
    capacity_ah : float
        "Nominal cell capacity [A.h]".
    sei_option : str or None
        PyBaMM "SEI" option value whose parameters the cell defines; None if it defines none.
    plating_option : str or None
        PyBaMM "lithium plating" option value whose parameters the cell defines, or None.
    heat_of_mixing : bool
        Whether PyBaMM's "heat of mixing" option has been verified to be numerically reliable for this cell.
    builtin : bool
        True for eomctl's own catalogue cells.
    """

    name: str
    chemistry: str
    source: str
    parameter_values: pybamm.ParameterValues
    v_min_v: float
    v_max_v: float
    capacity_ah: float
    sei_option: str | None
    plating_option: str | None
    heat_of_mixing: bool
    builtin: bool = False


def load_cell(spec: str | os.PathLike[str]) -> Cell:
    """Load a cell by catalogue name, PyBaMM parameter-set name or file path.

    Parameters
    ----------
    spec : str or os.PathLike
        ``"LGM50"``, ``"A123-LFP"``, a PyBaMM set such as ``"Chen2020"`` (names are case-insensitive), or the path
        of a ``.json`` (BPX or eomctl format), ``.yaml``/``.yml`` or ``.py`` cell file.

    Returns
    -------
    Cell
        The validated cell.

    Raises
    ------
    UnknownCellError
        The name matches nothing; the message suggests close matches.
    CellFileError
        The file is missing, unreadable or malformed.
    NonPhysicalParameterError
        A numeric parameter is impossible (negative thickness, porosity outside (0, 1], ...).
    MissingParameterError
        The cell lacks its voltage window or capacity, or the parameters of an SEI/plating option it declares.
    """
    if not isinstance(spec, str) or any(sep in spec for sep in ("/", os.sep)) or spec.lower().endswith(_SUFFIXES):
        return _load_path(Path(spec))
    builtin = _match(spec, _BUILTIN_FILES)
    if builtin is not None:
        return _load_path(_DATA_DIR / _BUILTIN_FILES[builtin], builtin=True)
    name = _match(spec, pybamm.parameter_sets)
    if name is not None:
        return _load_pybamm(name)
    with contextlib.suppress(OSError):  # a name too long for the file system is no file
        if Path(spec).is_file():
            return _load_path(Path(spec))
    known = [*_BUILTIN_FILES, *pybamm.parameter_sets]
    close = difflib.get_close_matches(spec.lower(), [k.lower() for k in known], n=3, cutoff=0.6)
    hint = " or ".join(f"'{k}'" for k in known if k.lower() in close)
    raise UnknownCellError(
        f"unknown cell '{spec}'; "
        + (f"did you mean {hint}?" if hint else f"known cells: {', '.join(known)}; or give a cell file path")
    )


def catalogue() -> list[Cell]:
    """Return the built-in cells, then every PyBaMM lithium-ion parameter set, each loaded and validated."""
    cells = [load_cell(name) for name in _BUILTIN_FILES]
    for name in pybamm.parameter_sets:
        if pybamm.parameter_sets[name].get("chemistry") == "lithium_ion":
            cells.append(_load_pybamm(name))
    return cells


def format_catalogue(cells: list[Cell]) -> str:
    """Format cells as a plain-text table (one row per cell) of name, chemistry, capacity, window and source."""
    header = ("name", "chemistry", "capacity [A.h]", "window [V]", "source")
    rows = [
        (c.name, c.chemistry, f"{c.capacity_ah:g}", f"{c.v_min_v:g}-{c.v_max_v:g}", _shorten(c.source, 70))
        for c in cells
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = ["  ".join(f"{v:<{w}}" for v, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in [header, *rows]]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


def check_parameters(cell: Cell, model: pybamm.BaseModel, *, inputs: Collection[str] = _INPUT_NAMES) -> None:
    """Raise if ``cell`` lacks a parameter that the unprocessed ``model`` needs.

    Looks inside function parameters too (e.g. OKane2022's plating exchange current reads "Lithium plating kinetic
    rate constant [m.s-1]", which PyBaMM's ``get_parameter_info`` does not list).

    Parameters
    ----------
    cell : Cell
        The cell to check.
    model : pybamm.BaseModel
        An unprocessed model built with the options the user chose.
    inputs : collection of str, optional
        Names that will be supplied as input parameters, so need no value.

    Raises
    ------
    MissingParameterError
        Listing every missing parameter name.
    """
    missing = _missing_names(cell.parameter_values, _model_symbols(model), inputs)
    if missing:
        raise MissingParameterError(cell.name, missing)


def _match(spec: str, names: Collection[str]) -> str | None:
    return next((n for n in names if n.lower() == spec.lower()), None)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _load_pybamm(name: str) -> Cell:
    doc = pybamm.parameter_sets.get_docstring(name).strip().split("\n\n")[0]
    source = f"PyBaMM '{name}': " + " ".join(re.sub(r":footcite:t?:`([^`]*)`", r"\1", doc).split())
    chemistry = _pybamm_chemistry().get(name, "lithium-ion")
    return _make_cell(name, chemistry, source, pybamm.ParameterValues(name), heat_of_mixing=name in _HEAT_OF_MIXING_OK)


@functools.cache
def _pybamm_chemistry() -> dict[str, str]:
    return dict(yaml.safe_load((_DATA_DIR / "pybamm_chemistry.yaml").read_text(encoding="utf-8")))


def _load_path(path: Path, *, builtin: bool = False) -> Cell:
    if not path.is_file():
        raise CellFileError(f"cell file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".py":
        return _load_module(path)
    if suffix not in (".json", ".yaml", ".yml"):
        raise CellFileError(f"{path}: unsupported cell file type '{suffix}' (use .json, .yaml, .yml or .py)")
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise CellFileError(f"{path}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}") from None
        if isinstance(data, dict) and "Header" in data and "Parameterisation" in data:
            return _load_bpx(path, data)
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise CellFileError(f"{path}: malformed YAML{where}: {getattr(err, 'problem', err)}") from None
    return _load_user(path, data, builtin=builtin)


def _load_bpx(path: Path, data: dict[str, Any]) -> Cell:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pyparsing / pydantic deprecations inside bpx
        import bpx
        import pydantic

        try:
            bpx.parse_bpx_obj(copy.deepcopy(data))
            values = pybamm.ParameterValues.create_from_bpx_obj(copy.deepcopy(data))
        except pydantic.ValidationError as err:
            fields = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors(include_url=False)[:3]
            )
            raise CellFileError(f"{path}: invalid BPX file ({err.error_count()} error(s)): {fields}") from None
        except (ValueError, TypeError, KeyError) as err:
            raise CellFileError(f"{path}: BPX file could not be converted: {err}") from None
    header = data["Header"]
    source = "; ".join(str(header[k]) for k in ("Title", "References") if header.get(k)) or f"BPX file {path.name}"
    return _make_cell(path.stem, "unknown (BPX file)", source, values, heat_of_mixing=False)


def _load_user(path: Path, data: object, *, builtin: bool) -> Cell:
    if not isinstance(data, dict):
        raise CellFileError(f"{path}: expected a mapping with keys 'base' and 'overrides' at the top level")
    unknown = sorted(set(data) - _USER_KEYS)
    if unknown:
        raise CellFileError(f"{path}: unknown key '{unknown[0]}' (allowed: {', '.join(sorted(_USER_KEYS))})")
    base_name = data.get("base")
    if not isinstance(base_name, str) or not base_name:
        raise CellFileError(f"{path}: missing required key 'base' (a catalogue cell or PyBaMM parameter set name)")
    if any(sep in base_name for sep in ("/", os.sep)) or base_name.lower().endswith(_SUFFIXES):
        raise CellFileError(f"{path}: 'base' must name a catalogue cell or PyBaMM parameter set, not a file")
    try:
        base = load_cell(base_name)
    except UnknownCellError as err:
        raise CellFileError(f"{path}: key 'base': {err}") from None
    overrides = data.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise CellFileError(f"{path}: key 'overrides' must be a mapping of parameter name to value")
    for key in overrides:
        _check_parameter_name(path, base, str(key))
    values = base.parameter_values.copy()
    values.update(
        {str(k): _override_value(path, base, str(k), v) for k, v in overrides.items()}, check_already_exists=False
    )
    options = {key: data.get(key) for key in ("sei_option", "plating_option", "heat_of_mixing")}
    for key, possible in (("sei_option", _SEI_PREFERENCE), ("plating_option", _PLATING_PREFERENCE)):
        if options[key] is not None and options[key] not in possible:
            raise CellFileError(f"{path}: key '{key}': '{options[key]}' is not one of {', '.join(possible)}")
    if options["heat_of_mixing"] is not None and not isinstance(options["heat_of_mixing"], bool):
        raise CellFileError(f"{path}: key 'heat_of_mixing' must be true or false")
    return _make_cell(
        str(data.get("name") or path.stem),
        str(data.get("chemistry") or base.chemistry),
        str(data.get("source") or f"{base.source}; overrides from {path.name}"),
        values,
        heat_of_mixing=base.heat_of_mixing if options["heat_of_mixing"] is None else options["heat_of_mixing"],
        sei_option=options["sei_option"],
        plating_option=options["plating_option"],
        builtin=builtin,
    )


@functools.cache
def _known_parameter_names() -> frozenset[str]:
    """Every parameter name PyBaMM's lithium-ion parameters read or some PyBaMM parameter set defines.

    An override may add a name its base lacks (an SEI or plating parameter, a lumped heat capacity), but not one no
    model reads: that would be silently ignored.
    """
    names: set[str] = set()
    for name in pybamm.parameter_sets:
        with contextlib.suppress(Exception):  # a set that fails to load adds no names
            names.update(pybamm.ParameterValues(name).keys())
    _parameter_names(pybamm.LithiumIonParameters(), names, set())
    names.update(plating.PARAMETER_NAMES)  # eomctl's consistent plating kinetics reads these
    return frozenset(names)


def _parameter_names(obj: object, names: set[str], seen: set[int], depth: int = 0) -> None:
    """Collect the names of the ``pybamm.Parameter`` symbols reachable from a PyBaMM parameters object."""
    if id(obj) in seen or depth > 6:
        return
    seen.add(id(obj))
    if isinstance(obj, (pybamm.Parameter, pybamm.FunctionParameter)):
        names.add(obj.name)
    if isinstance(obj, pybamm.Symbol):
        children: Collection[object] = obj.children
    elif type(obj).__module__.startswith("pybamm") and hasattr(obj, "__dict__"):
        children = list(vars(obj).values())
    elif isinstance(obj, (list, tuple, dict)):
        children = list(obj.values()) if isinstance(obj, dict) else list(obj)
    else:
        return
    for child in children:
        _parameter_names(child, names, seen, depth + 1)


def _check_parameter_name(path: Path, base: Cell, key: str) -> None:
    """A misspelled override name would be silently ignored by every model: refuse it, with close matches."""
    if key in base.parameter_values.keys() or key in _known_parameter_names():  # noqa: SIM118 (not a dict)
        return
    candidates = sorted(set(base.parameter_values.keys()) | _known_parameter_names())
    close = difflib.get_close_matches(key, candidates, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise CellFileError(f"{path}: override '{key}' is not a parameter of '{base.name}' or of any PyBaMM set{hint}")


def _override_value(path: Path, base: Cell, key: str, raw: object) -> object:
    if isinstance(raw, dict):
        extra = sorted(set(raw) - {"value", "from", "source"})
        if extra or ("value" in raw) == ("from" in raw):
            raise CellFileError(f"{path}: override '{key}' must have exactly one of 'value' or 'from' (plus 'source')")
        if "from" in raw:
            donor = _match(str(raw["from"]), pybamm.parameter_sets)
            if donor is None or key not in pybamm.parameter_sets[donor]:
                raise CellFileError(f"{path}: override '{key}': no parameter set '{raw['from']}' defining it")
            return pybamm.parameter_sets[donor][key]
        raw = raw["value"]
    if isinstance(raw, str) and _NUMBER.fullmatch(raw.strip()):
        raw = float(raw)  # PyYAML reads 1e-5 (no dot or no exponent sign) as a string
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        current = base.parameter_values.get(key, None)
        kind = "a number" if current is None or _is_number(current) else "a number (the base value is a function)"
        raise CellFileError(f"{path}: override '{key}' must be {kind}, got {raw!r}")
    return float(raw)


def _load_module(path: Path) -> Cell:
    spec = importlib.util.spec_from_file_location(f"eomctl_user_cell_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise CellFileError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        getter = getattr(module, "get_parameter_values", None)
        if not callable(getter):
            raise CellFileError(f"{path}: defines no function get_parameter_values()")
        raw = getter()
        if not isinstance(raw, (dict, pybamm.ParameterValues)):
            raise CellFileError(
                f"{path}: get_parameter_values() returned {type(raw).__name__}; expected a dict of parameter name to "
                "value (or pybamm.ParameterValues)"
            )
        values = raw if isinstance(raw, pybamm.ParameterValues) else pybamm.ParameterValues(raw)
    except CellFileError:
        raise
    except Exception as err:  # user code: any failure is the file's fault
        raise CellFileError(f"{path}: error while executing the cell module: {type(err).__name__}: {err}") from None
    source = (module.__doc__ or "").strip().split("\n")[0] or f"Python cell file {path.name}"
    chemistry = str(getattr(module, "CHEMISTRY", "unknown"))
    return _make_cell(path.stem, chemistry, source, values, heat_of_mixing=False)


def _make_cell(
    name: str,
    chemistry: str,
    source: str,
    values: pybamm.ParameterValues,
    *,
    heat_of_mixing: bool,
    sei_option: str | None = None,
    plating_option: str | None = None,
    builtin: bool = False,
) -> Cell:
    _check_physical(name, values)
    window = [_number(name, values, k) for k in ("Lower voltage cut-off [V]", "Upper voltage cut-off [V]")]
    if window[0] >= window[1]:
        raise NonPhysicalParameterError(
            f"cell '{name}': 'Lower voltage cut-off [V]' = {window[0]} must be below "
            f"'Upper voltage cut-off [V]' = {window[1]}"
        )
    sei = _supported_option(name, values, "SEI", sei_option, _SEI_PREFERENCE)
    plating = _supported_option(name, values, "lithium plating", plating_option, _PLATING_PREFERENCE)
    capacity = _number(name, values, "Nominal cell capacity [A.h]")
    return Cell(name, chemistry, source, values, window[0], window[1], capacity, sei, plating, heat_of_mixing, builtin)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))


def _number(name: str, values: pybamm.ParameterValues, key: str) -> float:
    if key not in values or not _is_number(values[key]):
        raise MissingParameterError(name, [key])
    return float(values[key])


def _check_physical(name: str, values: pybamm.ParameterValues) -> None:
    for key, value in values.items():
        if not _is_number(value):
            continue
        if _FRACTION.search(key) and not 0 < value < 1 and not (value == 1 and key.endswith("porosity")):
            raise NonPhysicalParameterError(f"cell '{name}': '{key}' = {value} must lie in (0, 1)")
        # PyBaMM's BPX import sets absent current collectors to 0 thickness: allowed, negative is not.
        zero_ok = "current collector" in key
        if _POSITIVE.search(key) and not (value >= 0 if zero_ok else value > 0):
            raise NonPhysicalParameterError(f"cell '{name}': '{key}' = {value} must be {'>=' if zero_ok else '>'} 0")


def _supported_option(
    name: str, values: pybamm.ParameterValues, option: str, declared: str | None, preference: tuple[str, ...]
) -> str | None:
    if declared is not None:
        missing = _missing_names(values, _option_symbols(option, declared), _INPUT_NAMES)
        if missing:
            raise MissingParameterError(name, missing)
        return declared
    return next((v for v in preference if not _missing_names(values, _option_symbols(option, v), ())), None)


@functools.cache
def _option_symbols(option: str, value: str) -> dict[str, pybamm.Symbol]:
    """Parameters that the option value adds to a lumped-thermal SPMe (built once per option value)."""
    base = _model_symbols(pybamm.lithium_ion.SPMe({"thermal": "lumped"}))
    extra = _model_symbols(pybamm.lithium_ion.SPMe({"thermal": "lumped", option: value}))
    return {k: v for k, v in extra.items() if k not in base}


def _model_symbols(model: pybamm.BaseModel) -> dict[str, pybamm.Symbol]:
    return {name: symbol for name, (symbol, _) in model.get_parameter_info().items()}


def _missing_names(
    values: pybamm.ParameterValues, symbols: Mapping[str, pybamm.Symbol], inputs: Collection[str]
) -> list[str]:
    missing: set[str] = set()
    pending, seen = list(symbols.items()), set(inputs)
    while pending:
        name, symbol = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name not in values:
            missing.add(name)
            continue
        value = values[name]
        if isinstance(symbol, pybamm.FunctionParameter) and callable(value):
            try:  # evaluate the function symbolically to find the parameters it reads
                out = value(*symbol.children)
            except Exception:  # one that cannot run symbolically is checked when PyBaMM processes it
                continue
            if isinstance(out, pybamm.Symbol):
                pending += [
                    (s.name, s) for s in out.pre_order() if isinstance(s, (pybamm.Parameter, pybamm.FunctionParameter))
                ]
    return sorted(missing)
