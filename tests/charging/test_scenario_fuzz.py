"""Fuzzing scenario files: malformed YAML never gives a raw traceback.

Every scenario file a user can write either loads into a well-typed, validated :class:`Scenario`, or is rejected with
an :class:`~eomctl.core.errors.EomctlError` whose message names the scenario (its file stem) and says what is wrong.
Any other exception (``TypeError``, ``KeyError``, ``OverflowError``, ...) fails these tests: it would reach the user as
a traceback from deep inside the loader.

Inputs come from three sources: arbitrary YAML-able mappings biased towards the keys a scenario knows (so the fuzzing
gets past the unknown-key check into every block), mutations of the shipped ``envs/*.yaml`` files (a key dropped, a
value replaced by a random one or by a wrong type deep inside, an unknown key added), and garbage file bytes.
Each input is written as a real YAML file and read through the public :func:`load_scenario`, as the command line does.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from eomctl.cell.simulator import MODEL_CLASSES, SimulatorConfig
from eomctl.charging.scenarios import AgingRange, Limits, RewardWeights, Scenario, load_scenario
from eomctl.core.errors import EomctlError
from eomctl.core.resources import scenario_paths

# Deterministic and quick on a 2-core CI runner: each test runs in a few seconds (the cells are cached after the first
# load). The function-scoped-fixture health check does not apply: the temporary folder is module-scoped.
FUZZ = settings(max_examples=250, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
STEM = "FuzzScenario"  # every error message must name the scenario, i.e. this file stem

SHIPPED: dict[str, dict[str, Any]] = {name: yaml.safe_load(path.read_text()) for name, path in scenario_paths().items()}


def _keys_of(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _keys_of(value)


# Known keys at any depth (top level, block fields, randomisation kinds, parameter names) so that random mappings
# reach the per-block parsing instead of stopping at the first unknown key.
KNOWN_KEYS = sorted(
    set()
    .union(*(_keys_of(data) for data in SHIPPED.values()))
    .union(f.name for cls in (Scenario, Limits, RewardWeights, SimulatorConfig) for f in dataclasses.fields(cls))
    | {"randomisation", "spread", "aging", "factor", "value"}
)
TEXT = st.text(max_size=12)
KEYS = st.one_of(st.sampled_from(KNOWN_KEYS), TEXT, st.integers(-3, 3), st.booleans(), st.none())
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # unbounded: beyond float range too
    st.integers(-(10**400), 10**400),
    st.floats(),  # nan, inf, -inf, -0.0, subnormals
    st.sampled_from([0, -1, 1e308, "SPMe", "lumped", "enforce", "bms", "LGM50", "", "null", "1C"]),
    TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=8,
)

PARAMETERS = st.one_of(
    st.sampled_from(
        sorted({k for d in SHIPPED.values() for kind in d.get("randomisation", {}).values() for k in kind})
    ),
    TEXT,
)
TOP_KEYS = sorted({f.name for f in dataclasses.fields(Scenario)} - {"name", "spread", "aging"} | {"randomisation"})


def _shipped_values(*path: str) -> list[Any]:
    """The values the shipped files hold at ``path`` (e.g. ``("simulator", "model")``)."""
    found = []
    for data in SHIPPED.values():
        node: Any = data
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None:
            found.append(node)
    return found


def _leaf(*path: str) -> st.SearchStrategy[Any]:
    """A value for ``path``: often one a shipped file holds there (so the fields around it pass), else random."""
    valid = _shipped_values(*path)
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid), VALUES) if valid else VALUES


def _block_of(name: str, fields: list[str]) -> st.SearchStrategy[Any]:
    shaped = st.fixed_dictionaries({}, optional={key: _leaf(name, key) for key in fields})
    return st.one_of(shaped, shaped, VALUES)


AGING_SPEC = st.dictionaries(st.sampled_from(["factor", "value"]) | KEYS, VALUES, max_size=2) | VALUES
RANDOMISATION = st.fixed_dictionaries(
    {},
    optional={
        "spread": st.dictionaries(PARAMETERS, VALUES | st.floats(0, 0.6), max_size=2) | VALUES,
        "aging": st.dictionaries(PARAMETERS, AGING_SPEC, max_size=2) | VALUES,
    },
)
# Mappings shaped like a scenario (known keys, blocks holding their own keys) with random values mixed into valid ones:
# these get past the unknown-key checks into the type checks and validation of each field.
SHAPED = st.fixed_dictionaries(
    {},
    optional={
        **{key: _leaf(key) for key in TOP_KEYS},
        "simulator": _block_of("simulator", [f.name for f in dataclasses.fields(SimulatorConfig)]),
        "limits": _block_of("limits", [f.name for f in dataclasses.fields(Limits)]),
        "reward": _block_of("reward", [f.name for f in dataclasses.fields(RewardWeights)]),
        "randomisation": RANDOMISATION | VALUES,
    },
)


# ------------------------------------------------------------------------------------------------------ helpers
@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file path reused by every example (Hypothesis cannot use the function-scoped ``tmp_path``)."""
    return tmp_path_factory.mktemp("scenario_fuzz") / f"{STEM}.yaml"


def _write(path: Path, data: Any) -> None:
    # sort_keys=False: mixed key types (str, int, bool, None) cannot be sorted, and YAML does not need it.
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _is_finite_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _assert_well_formed(scenario: Scenario) -> None:
    """A scenario that loaded has the declared types and validates again: nothing malformed slipped through."""
    assert isinstance(scenario, Scenario) and scenario.name == STEM
    assert isinstance(scenario.cell, str) and isinstance(scenario.description, str)
    for name in ("dt_s", "target_soc", "c_rate_max", "time_limit_s"):
        assert _is_finite_real(getattr(scenario, name)), name
    pairs = [scenario.initial_soc, scenario.ambient_c, *([scenario.deadline_s] if scenario.deadline_s else [])]
    for pair in pairs:
        assert isinstance(pair, tuple) and len(pair) == 2 and all(_is_finite_real(v) for v in pair)
    for name, value in dataclasses.asdict(scenario.limits).items():
        assert value is None or _is_finite_real(value), name
    for name, value in dataclasses.asdict(scenario.reward).items():
        assert (value is None and name == "entropy_scale_j_per_k") or _is_finite_real(value), name
    assert scenario.limit_mode in ("enforce", "penalise") and scenario.observation in ("full", "bms")
    sim = scenario.simulator
    assert sim.model in MODEL_CLASSES and sim.thermal in ("isothermal", "lumped")
    for flag in ("degradation", "loss_of_active_material", "contact_resistance", "mechanism_split"):
        assert isinstance(getattr(sim, flag), bool), flag
    assert sim.heat_of_mixing in (True, False, None) and sim.compile in (True, False, None)
    assert _is_finite_real(sim.rtol) and _is_finite_real(sim.atol)
    assert isinstance(sim.extra_inputs, tuple) and all(isinstance(name, str) for name in sim.extra_inputs)
    assert all(isinstance(n, str) and isinstance(p, int) and not isinstance(p, bool) for n, p in sim.var_pts)
    assert all(isinstance(n, str) and _is_finite_real(std) for n, std in scenario.spread)
    for aging in scenario.aging:
        assert isinstance(aging, AgingRange) and isinstance(aging.parameter, str) and isinstance(aging.relative, bool)
        assert _is_finite_real(aging.low) and _is_finite_real(aging.high)
    scenario.validate()
    hash(scenario)  # frozen and made of hashable parts (tuples, not lists): usable as a cache key
    scenario.simulator_config()


def _load_or_reject(path: Path) -> None:
    """Load ``path``: a well-formed scenario, or an EomctlError naming it. Anything else propagates and fails."""
    try:
        scenario = load_scenario(path)
    except EomctlError as exc:
        message = str(exc)
        assert message.strip(), f"{type(exc).__name__} with an empty message"
        assert STEM in message, f"the message does not name the scenario: {message!r}"
        return
    _assert_well_formed(scenario)


# ------------------------------------------------------------------------------------------------ mutations
Location = tuple[Any, ...]


def _locations(node: Any, path: Location = ()) -> Iterator[Location]:
    """Every place in a parsed YAML tree: the keys (and list indices) leading to it."""
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _locations(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _locations(value, (*path, index))


def _at(root: Any, path: Location) -> Any:
    for step in path:
        root = root[step]
    return root


def _wrong_types(value: Any) -> st.SearchStrategy[Any]:
    """Values of another type that a careless edit could put where ``value`` was."""
    fixed: list[Any] = [None, True, "", "x", [], {}, [value], {"value": value}, str(value), float("nan"), float("inf")]
    if _is_finite_real(value):
        big = int(value * 1e3 + 1) * 10**400  # beyond float range
        fixed += [-value, big, -big, value * 1e308, [value, value, value], [value, "high"], [value]]
    return st.sampled_from(fixed)


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> dict[Any, Any]:
    """A shipped scenario with one to three random edits (drop, replace, add, retype)."""
    data = copy.deepcopy(SHIPPED[draw(st.sampled_from(sorted(SHIPPED)))])
    for _ in range(draw(st.integers(1, 3))):
        places = list(_locations(data))
        path = draw(st.sampled_from(places))
        operation = draw(st.sampled_from(["drop", "replace", "retype", "add"]))
        if operation == "add" or not path:  # the root can only gain a key
            target = _at(data, path)
            if isinstance(target, dict):
                target[draw(KEYS)] = draw(VALUES)
            elif isinstance(target, list):
                target.append(draw(VALUES))
            continue
        parent, last = _at(data, path[:-1]), path[-1]
        if operation == "drop":
            del parent[last]
        elif operation == "replace":
            parent[last] = draw(VALUES)
        else:
            parent[last] = draw(_wrong_types(parent[last]))
    return data


# ------------------------------------------------------------------------------------------------------- tests
def test_shipped_scenarios_load_through_the_fuzz_harness(scenario_file: Path) -> None:
    """The harness itself: a copy of each shipped file loads and is well formed (else the fuzzing proves nothing)."""
    for data in SHIPPED.values():
        _write(scenario_file, data)
        _assert_well_formed(load_scenario(scenario_file))


@FUZZ
@given(data=st.dictionaries(KEYS, VALUES, max_size=6))
@example(data={"dt_s": True})
@example(data={"dt_s": 10**400})
@example(data={"initial_soc": [0.1, 10**400]})
@example(data={"cell": 5})
@example(data={"simulator": {"model": ["SPMe"]}})
@example(data={"simulator": {"var_pts": {"r_n": "many"}}})
@example(data={"randomisation": {"spread": ["x"]}})
@example(data={"cell": "x" * 300})  # longer than a file name may be
@example(data={"cell": "no/such/cell.yaml"})
@example(data={"description": 5, "limit_mode": ["enforce"]})
@example(data={"simulator": {"extra_inputs": "Contact resistance [Ohm]"}})  # a string, not a list of names
@example(data={1: 2, "a": None})
def test_random_mappings_load_or_fail_cleanly(scenario_file: Path, data: dict[Any, Any]) -> None:
    _write(scenario_file, data)
    _load_or_reject(scenario_file)


@FUZZ
@given(data=SHAPED)
def test_scenario_shaped_mappings_load_or_fail_cleanly(scenario_file: Path, data: dict[Any, Any]) -> None:
    _write(scenario_file, data)
    _load_or_reject(scenario_file)


@FUZZ
@given(data=mutated_scenarios())
def test_mutated_shipped_scenarios_load_or_fail_cleanly(scenario_file: Path, data: dict[Any, Any]) -> None:
    _write(scenario_file, data)
    _load_or_reject(scenario_file)


YAML_TOKENS = [
    "{", "}", "[", "]", ":", ": ", "- ", ",", "\n", "  ", "\t", "#", "'", '"', "|", ">", "? ", "&a ", "*a", "<<: *a",
    "!!python/object/apply:os.system ['true']", "!!binary ", "!!float ", "%YAML 1.1\n", "---\n", "...\n",
    "dt_s", "cell", "limits", "simulator", "1", ".nan", "-.inf", "~", "1e999", "\ufeff", "\x00", "\x85",
]  # fmt: skip


@FUZZ
@given(
    raw=st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda text: text.encode("utf-8")),
        st.lists(st.sampled_from(YAML_TOKENS), max_size=30).map(lambda parts: "".join(parts).encode("utf-8")),
    )
)
@example(raw=b"\xff\xfe\x00garbage")
@example(raw=b"[" * 10_000)  # nesting deeper than the YAML parser's recursion
@example(raw=b"dt_s: [1, 2")
@example(raw=b"dt_s: " + b"9" * 5000)  # more digits than Python converts to an int
@example(raw=b"dt_s: 2024-13-45")  # a YAML date that does not exist
@example(raw=b"dt_s: 2024-01-01")
@example(raw=b"- 1\n- 2\n")
@example(raw=b"a: &a {b: *a}\nlimits: *a\n")
def test_garbage_bytes_fail_cleanly(scenario_file: Path, raw: bytes) -> None:
    scenario_file.write_bytes(raw)
    _load_or_reject(scenario_file)


@FUZZ
@given(overrides=st.dictionaries(KEYS, VALUES, max_size=3))
def test_random_overrides_load_or_fail_cleanly(overrides: dict[Any, Any]) -> None:
    """Overrides (``--env-override``, a run's ``env_overrides``) take the same path as the file's own mapping."""
    try:
        scenario = load_scenario("FastCharge", overrides)
    except EomctlError as exc:
        assert str(exc).strip() and "FastCharge" in str(exc), str(exc)
        return
    assert scenario.name == "FastCharge"
    _assert_well_formed(dataclasses.replace(scenario, name=STEM))
