"""Fuzzing policy specs: whatever a user types after ``--policy`` never gives a raw traceback.

A spec string either parses into a usable policy (it round-trips through :func:`policy_spec`, binds to a real
environment context and answers ``predict`` with a finite action in [-1, 1]), or :func:`parse_policy` raises an
:class:`~eomctl.core.errors.EomctlError` whose message quotes the part of the spec that is wrong. Any other exception
(``ValueError``, ``ZeroDivisionError``, ``OSError``, ...) fails these tests. The command line passes the string as typed
(``eomctl evaluate --policy``, ``rollout --agent``, ``lifetime --policy``), and so do these tests.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from eomctl.cell.catalogue import load_cell
from eomctl.charging.observation import ObservationSpace
from eomctl.charging.scenarios import load_scenario
from eomctl.core.errors import ConfigError, EomctlError
from eomctl.policies.baselines import Baseline, Rate
from eomctl.policies.mpc import MPC
from eomctl.policies.protocol import EnvContext
from eomctl.policies.specs import _FIELDS, parse_policy, parse_rate, policy_spec

# Deterministic and quick on a 2-core CI runner (parsing is microseconds; binding and predicting a few milliseconds).
FUZZ = settings(max_examples=400, deadline=None, derandomize=True)

# A real context, as bind(env) reads it from a FastCharge env, without building the PyBaMM model.
SCENARIO = load_scenario("FastCharge")
CELL = load_cell(SCENARIO.cell)
SPACE = ObservationSpace.of(SCENARIO)
CONTEXT = EnvContext(
    features={name: i for i, name in enumerate(SPACE.features)},
    capacity_ah=CELL.capacity_ah,
    current_max_a=SCENARIO.c_rate_max * CELL.capacity_ah,
    time_limit_s=SCENARIO.time_limit_s,
)
OBSERVATIONS = [
    (SPACE.low + (SPACE.high - SPACE.low) * fraction).astype(np.float32) for fraction in (0.0, 0.25, 0.5, 0.99, 1.0)
]

PROTOCOLS = sorted(_FIELDS)
KEYS = sorted({key for _, parsers in _FIELDS.values() for key in parsers})
RATE_KEYS = {"rate", "cutoff", "boost"}  # keys whose value is one rate (like 1C or C/20)
VALID_RATES = ["1C", "0.5C", "C/20", "2A", ".5C", "3 C", "c/5", "1e-1C", "2.5c", "10A"]
VALID_NUMBERS = ["4.2", "0.3", "0.01", "60", "30", "15", "3.6", "4.1/4.15", "0.3/0.5"]
EDGE_VALUES = [
    "", " ", "0", "-1", "0C", "-2C", "C/0", "C/0.0", "0A", "nan", "inf", "-inf", "NaNC", "infC", "1e999", "1e999C",
    "1e-999C", "C/" + "0." + "0" * 400 + "1", "9" * 400, "9" * 400 + "C", "1C/", "/", "//", "1C//2C", "3C/2C/1C",
    "0.5/0.3", "0.3/0.3", "1.5", "-0.1", "1_000", "0x10", "\u0663C", "\uff11C", "½C", "1,5C", "1C=2C", "=", "C",
    "\x00", "\u200b1C", "1C\n",
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(VALID_RATES + VALID_NUMBERS),
    st.sampled_from(EDGE_VALUES),
    st.floats().map(repr),
    st.integers().map(str),
    st.text(max_size=8),
)
NAMES = st.one_of(
    st.sampled_from(PROTOCOLS),
    st.sampled_from(PROTOCOLS).map(str.upper),
    st.sampled_from(PROTOCOLS).map(lambda name: f" {name} "),
    st.sampled_from(["cccx", "cc-cv", "ccc", "multi", "", " ", "zip", "ppo"]),
    st.text(max_size=8),
)


@st.composite
def items(draw: st.DrawFn) -> str:
    """One ``key=value`` with any part malformed: unknown key, missing '=', doubled '=', empty or odd value."""
    key = draw(st.one_of(st.sampled_from(KEYS), st.sampled_from(KEYS), st.text(max_size=6)))
    separator = draw(st.sampled_from(["=", "=", "=", "", "==", ":", " = ", "= "]))
    return key + separator + draw(VALUES)


@st.composite
def structured_specs(draw: st.DrawFn) -> str:
    """``name:key=value,...`` built from known and broken parts, with extra colons and commas."""
    body = draw(st.sampled_from([",", ", ", ",,", ";"])).join(draw(st.lists(items(), max_size=5)))
    spec = draw(NAMES) + draw(st.sampled_from([":", ":", "::", "", " : "])) + body
    return spec + draw(st.sampled_from(["", "", ",", ":", ":extra", ",rate=1C", ".zip"]))


@st.composite
def valid_specs(draw: st.DrawFn) -> str:
    """A protocol with a random subset of its keys, each with a well-formed value (may still be inconsistent)."""
    name = draw(st.sampled_from(PROTOCOLS))
    parsers = _FIELDS[name][1]
    chosen = draw(st.lists(st.sampled_from(sorted(parsers)), unique=True, max_size=len(parsers)))
    positive = st.floats(1e-3, 1e3, allow_nan=False).map(repr)
    values = {
        key: draw(st.sampled_from(VALID_RATES) | positive.map(lambda v: v + "C"))
        if key in RATE_KEYS
        else draw(st.lists(st.sampled_from(VALID_RATES), min_size=1, max_size=4).map("/".join))
        if key == "rates"
        else draw(st.lists(st.floats(0.01, 0.99), min_size=1, max_size=3).map(lambda v: "/".join(map(repr, v))))
        if key.startswith("switch")
        else draw(st.sampled_from(VALID_NUMBERS[:-2]) | positive)
        for key in chosen
    }
    return f"{name}:" + ",".join(f"{k}={v}" for k, v in values.items())


# ------------------------------------------------------------------------------------------------------ checks
def _tokens(spec: str) -> set[str]:
    """Parts of ``spec`` an error message may quote to say what is wrong: the spec, its name, keys and values."""
    name, _, body = spec.partition(":")
    tokens = {spec, spec.strip(), name.strip().lower()}
    for item in body.split(","):
        key, _, value = (part.strip() for part in item.partition("="))
        tokens |= {item.strip(), key, value, *value.split("/"), *(v.strip() for v in value.split("/"))}
    return {token.lower() for token in tokens if token.strip()}


def _assert_clear(exc: EomctlError, spec: str) -> None:
    message = str(exc)
    assert message.strip(), f"{type(exc).__name__} with an empty message"
    tokens = _tokens(spec) or {"empty"}  # a blank spec has nothing to quote: the message must say it is empty
    assert any(token in message.lower() for token in tokens), f"{message!r} quotes nothing of {spec!r}"


def _assert_usable(policy: Any) -> None:
    """A parsed baseline: finite parameters, an exact round trip, and finite actions in [-1, 1] once bound."""
    assert isinstance(policy, Baseline), type(policy)
    for f in dataclasses.fields(policy):
        value = getattr(policy, f.name)
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, Rate):
                assert v.unit in ("C", "A") and math.isfinite(v.value) and v.value > 0, f.name
            elif isinstance(v, float):
                assert math.isfinite(v), f.name
    assert parse_policy(policy_spec(policy)) == policy, policy_spec(policy)
    assert all(math.isfinite(v) for v in policy.limits.values())
    bound = dataclasses.replace(policy, context=CONTEXT)  # what bind(env) does, with the context read above
    if isinstance(policy, MPC):  # it plans on the env's simulator, which this harness has not: a clear refusal
        with pytest.raises(ConfigError, match="bind"):
            bound.predict(OBSERVATIONS[0], None)
        return
    state = None
    for observation in OBSERVATIONS:
        action, state = bound.predict(observation, state)
        assert action.shape == (1,) and action.dtype == np.float32, action
        assert np.isfinite(action).all() and -1.0 <= action[0] <= 1.0, action
        assert bound.done(observation) in (True, False)


def _parse_or_reject(spec: str) -> None:
    try:
        policy = parse_policy(spec)
    except EomctlError as exc:
        _assert_clear(exc, spec)
        return
    _assert_usable(policy)


# ------------------------------------------------------------------------------------------------------- tests
def test_documented_specs_pass_the_harness() -> None:
    """The harness itself: the documented specs parse and are usable (else the fuzzing proves nothing)."""
    for spec in [
        "cccv:rate=1C,vmax=4.2,cutoff=C/20",
        "multistage:rates=3C/2C/1C,switch_soc=0.3/0.5",
        "multistage:rates=3C/2C,switch_v=4.0",
        "boost:boost=3C,boost_until_soc=0.3,rate=1C",
        "pulse:rate=2C,on_s=60,off_s=30",
        "cp:power_w=15,vmax=4.2",
        "ccco:rate=2C,margin=0.05",
    ]:
        _assert_usable(parse_policy(spec))


@FUZZ
@given(spec=st.text(max_size=40))
@example(spec="x" * 300)  # longer than a file name may be
@example(spec="x" * 300 + ".zip")
@example(spec="cccv:" + ",".join(["vmax=4.2"] * 40))  # a long spec: a name no file system can look up
@example(spec="\x00.zip")
@example(spec="")
@example(spec=":")
def test_random_text_parses_or_fails_cleanly(spec: str) -> None:
    _parse_or_reject(spec)


@FUZZ
@given(spec=structured_specs())
@example(spec="cccv:rate=C/0")
@example(spec="cccv:rate=1e999C")
@example(spec="cccv:vmax=nan")
@example(spec="cccv:rate=1C,rate=2C")
@example(spec="pulse:on_s=0,off_s=0")
@example(spec="cp:power_w=-15")
@example(spec="multistage:rates=1C")
@example(spec="multistage:rates=2C/1C,switch_soc=1.5")
@example(spec="boost:boost_until_soc=-1")
def test_malformed_specs_fail_cleanly(spec: str) -> None:
    _parse_or_reject(spec)


@FUZZ
@given(spec=valid_specs())
@example(spec="cccv:vmax=4.123456789")  # more digits than policy_spec's old "%g" kept
@example(spec="ccco:rate=1.23456789C,margin=0.0123456789")
def test_well_formed_specs_parse_and_round_trip_or_fail_cleanly(spec: str) -> None:
    _parse_or_reject(spec)


@FUZZ
@given(text=st.one_of(st.sampled_from(VALID_RATES + EDGE_VALUES), VALUES, st.text(max_size=12)))
def test_rates_parse_or_fail_cleanly(text: str) -> None:
    try:
        rate = parse_rate(text)
    except EomctlError as exc:
        assert f"'{text}'" in str(exc), str(exc)
        return
    assert rate.unit in ("C", "A") and math.isfinite(rate.value) and rate.value > 0, rate
    assert parse_rate(str(rate)) == rate, str(rate)
