"""Tests of the lifetime engine (eomctl.cycling, eomctl.lifetime) and plots.plot_lifetime.

Default tests build one uncompiled SPMe + SEI + plating model (no LAM, to keep them quick) and run a handful of cycles;
the runs to end of life are marked slow.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from eomctl.cycling import DRIVE_CYCLE_DIR, load_drive_cycle, parse_discharge
from eomctl.errors import ConfigError
from eomctl.lifetime import (
    CSV_COLUMNS,
    LifetimeConfig,
    LifetimeResult,
    add_lifetime_parser,
    add_plot_lifetime_parser,
    build_simulator,
    eol_cycle,
    run_lifetime,
)
from eomctl.simulator import CellSimulator

BASE = LifetimeConfig(compile=False, loss_of_active_material=False, rest_s=300.0)
ACCELERATED = (("SEI solvent diffusivity [m2.s-1]", 5e-19),)  # x 2000: EOL within a few hundred cycles


@pytest.fixture(scope="module")
def sim() -> CellSimulator:
    return build_simulator(BASE)


def _row(cycle: float, soh: float, rpt: bool) -> dict[str, float]:
    row = dict.fromkeys(CSV_COLUMNS, 0.0)
    row.update(cycle=cycle, soh=soh if rpt else math.nan, rpt=float(rpt))
    return row


# ------------------------------------------------------------------------------------------------ no simulation
def test_drive_cycle_is_charge_conserving_and_scaled() -> None:
    profile = load_drive_cycle(DRIVE_CYCLE_DIR / "US06.csv")
    durations = np.array([d for d, _ in profile])
    relative = np.array([i for _, i in profile])
    np.testing.assert_allclose(durations.sum(), 600.0)
    # Normalised to its mean current: the duration-weighted mean of the relative current is exactly 1.
    np.testing.assert_allclose(np.sum(durations * relative) / durations.sum(), 1.0, rtol=1e-12)
    assert relative.min() < 0 < relative.max()  # regenerative braking survives the 10 s averaging
    how = parse_discharge("US06:0.5C")
    assert how.rate_c == 0.5 and len(how.profile) == len(profile)
    assert parse_discharge("C/2").rate_c == 0.5 and not parse_discharge("1C").profile


@pytest.mark.parametrize("spec", ["NEDC:1C", "2A", "fast"])
def test_bad_discharge_specs_raise(spec: str) -> None:
    with pytest.raises(ConfigError):
        parse_discharge(spec)


@pytest.mark.parametrize(
    "change", [{"eol_soh": 1.2}, {"max_cycles": 0}, {"target_soc": 0.0}, {"fast_max_jump": 2}, {"rest_s": -1.0}]
)
def test_config_validation(change: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        dataclasses.replace(BASE, **change).validate()


def test_eol_cycle_interpolates_between_rpts() -> None:
    rows = [_row(0, 1.0, True), _row(1, 0, False), _row(50, 0.9, True), _row(100, 0.7, True)]
    assert eol_cycle(rows, 0.8) == pytest.approx(75.0)
    assert eol_cycle(rows[:3], 0.8) is None


def test_cli_parser_builds_the_config() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    add_lifetime_parser(sub)
    plot = sub.add_parser("plot").add_subparsers(dest="kind")
    add_plot_lifetime_parser(plot)
    args = parser.parse_args(
        ["lifetime", "--policy", "cccv:rate=2C", "--ambient-c", "5", "--fast", "--override", "A [m]=1e-3"]
    )
    assert (args.policy, args.ambient_c, args.fast, args.override) == ("cccv:rate=2C", 5.0, True, ["A [m]=1e-3"])
    args = parser.parse_args(["plot", "lifetime", "a.csv", "b.csv", "-o", "x.png"])
    assert args.csv == ["a.csv", "b.csv"] and args.out == "x.png"


def test_plot_lifetime_writes_an_image(tmp_path: Path) -> None:
    from eomctl.plots import plot_lifetime

    rows = [_row(0, 1.0, True), _row(1, 0, False), _row(50, 0.85, True), _row(100, 0.75, True)]
    for r in rows:
        r.update(resistance_ohm=0.03, entropy_charge_j_per_k=7.0)
    path = LifetimeResult(BASE, rows, None, 0, 0.0).write_csv(tmp_path / "a.csv")
    out = plot_lifetime([path, path], tmp_path / "life.png")
    assert out.stat().st_size > 10_000


# ------------------------------------------------------------------------------------------------ simulation
def test_cycles_and_reference_tests(sim: CellSimulator) -> None:
    result = run_lifetime(dataclasses.replace(BASE, max_cycles=2, rpt_every=0), simulator=sim)
    rpts = [r for r in result.rows if r["rpt"]]
    cycles = [r for r in result.rows if not r["rpt"]]
    assert [r["cycle"] for r in result.rows] == [0, 1, 2, 2]
    assert 4.8 < rpts[0]["capacity_ah"] < 5.2  # LG M50, 5 Ah nominal, C/3
    assert 0.01 < rpts[0]["resistance_ohm"] < 0.05  # 10 s DC resistance of a 21700 cell: tens of mOhm
    assert rpts[0]["soh"] == 1.0 and rpts[1]["soh"] < 1.0  # SEI grows: capacity fades
    lli = [r["lli_pct"] for r in result.rows]
    assert all(b > a for a, b in itertools.pairwise(lli))  # lithium loss never reverses over a cycle
    for r in cycles:
        assert 0 < r["charge_time_s"] < 4 * 3600 and r["entropy_charge_j_per_k"] > 0 and r["discharge_ah"] > 3.0
        assert r["extrapolated"] == 0


def test_drive_cycle_discharge_reaches_the_cut_off(sim: CellSimulator) -> None:
    result = run_lifetime(dataclasses.replace(BASE, max_cycles=1, rpt=False, discharge="US06:0.25C"), simulator=sim)
    row = result.rows[0]
    assert 3.5 < row["discharge_ah"] < 4.5  # charged to 80 % SOC (LG M50, 5 Ah), all of it driven out again
    assert sim.last.soc < 0.05  # driven down to the lower cut-off (then rested)


def test_charge_ends_exactly_at_the_target_soc(sim: CellSimulator) -> None:
    from eomctl.cycling import PolicyAdapter, bind_policy, charge_with_policy
    from eomctl.protocols import parse_policy
    from eomctl.scenarios import load_scenario

    sim.reset(soc=0.0, ambient_k=298.15)
    adapter = PolicyAdapter(sim, load_scenario("FastCharge"))
    policy = bind_policy(parse_policy("cccv:rate=1C,vmax=4.2,cutoff=C/20"), adapter)
    phase = charge_with_policy(sim, adapter, policy, 0.8, 1.0, 3600 * 4)
    # SOC is linear in time within a constant-current step up to the tiny SEI/plating side-reaction share.
    np.testing.assert_allclose(sim.last.soc, 0.8, atol=1e-4)
    assert phase.duration_s % 30.0 > 1e-3  # the last control step (dt_s = 30 s) was cut short at the target


def test_resume_gives_the_same_rows(sim: CellSimulator, tmp_path: Path) -> None:
    config = dataclasses.replace(BASE, max_cycles=3, rpt=False)
    whole = run_lifetime(config, simulator=sim)
    checkpoint = tmp_path / "life.json"

    def interrupt(row: dict[str, float]) -> None:
        if row["cycle"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_lifetime(config, checkpoint=checkpoint, checkpoint_every=1, on_row=interrupt, simulator=sim)
    assert checkpoint.is_file()
    resumed = run_lifetime(config, checkpoint=checkpoint, resume=True, simulator=sim)
    assert [r["cycle"] for r in resumed.rows] == [1, 2, 3]
    for a, b in zip(whole.rows, resumed.rows, strict=True):
        np.testing.assert_allclose([a[k] for k in CSV_COLUMNS], [b[k] for k in CSV_COLUMNS], rtol=1e-9, atol=1e-12)


def test_resume_refuses_another_experiment(sim: CellSimulator, tmp_path: Path) -> None:
    checkpoint = tmp_path / "life.json"
    run_lifetime(dataclasses.replace(BASE, max_cycles=1, rpt=False), checkpoint=checkpoint, simulator=sim)
    with pytest.raises(ConfigError):
        run_lifetime(
            dataclasses.replace(BASE, max_cycles=1, rpt=False, ambient_c=10.0),
            checkpoint=checkpoint,
            resume=True,
            simulator=sim,
        )


def test_cold_fast_charging_plates_more_and_ages_faster(sim: CellSimulator) -> None:
    """Same 2C CC-CV fast charge to 80 % SOC at 25 C and at -10 C: the cold cell plates more lithium, loses more
    lithium and more capacity (PHYSICS.md §5: plating is where fast-charge lifetime is lost). Measured here: plating
    ~2e-3 vs ~3e-4 A.h, LLI 0.030 vs 0.019 %, SOH 0.9997 vs 0.9998 after 2 cycles (plus RPTs); at 0 C the extra
    plating (1e-3 A.h) is offset by slower SEI growth within so few cycles."""
    runs = {}
    for ambient_c in (25.0, -10.0):
        config = dataclasses.replace(
            BASE, policy="cccv:rate=2C,vmax=4.2,cutoff=C/20", ambient_c=ambient_c, max_cycles=2, rpt_every=0
        )
        runs[ambient_c] = run_lifetime(config, simulator=sim).rows
    warm, cold = runs[25.0], runs[-10.0]
    plated = {t: sum(r["plating_ah"] for r in rows if not r["rpt"]) for t, rows in runs.items()}
    assert plated[-10.0] > 2.0 * plated[25.0]
    assert cold[-1]["lli_pct"] > warm[-1]["lli_pct"]
    assert cold[-1]["soh"] < warm[-1]["soh"]


# ------------------------------------------------------------------------------------------------ slow
@pytest.mark.slow
@pytest.mark.xfail(reason="--fast (inter-cycle extrapolation) is not yet validated or 10x faster; issue [lifetime]")
def test_fast_mode_matches_cycle_by_cycle_eol() -> None:
    config = LifetimeConfig(
        cell_overrides=ACCELERATED, loss_of_active_material=False, rpt_every=100, max_cycles=1500, compile=None
    )
    sim = build_simulator(config)
    slow = run_lifetime(config, simulator=sim)
    fast = run_lifetime(dataclasses.replace(config, fast=True), simulator=sim)
    assert slow.eol_cycle is not None and fast.eol_cycle is not None
    assert abs(fast.eol_cycle / slow.eol_cycle - 1) < 0.02
    assert fast.extra["cycling_s"] * 10 < slow.extra["cycling_s"]
    assert any(r["extrapolated"] for r in fast.rows)


@pytest.mark.slow
@pytest.mark.xfail(reason="--fast (inter-cycle extrapolation) is not yet validated or 10x faster; issue [lifetime]")
def test_cold_ambient_shortens_life() -> None:
    base = dataclasses.replace(BASE, policy="cccv:rate=2C", cell_overrides=ACCELERATED, rpt_every=25, fast=True)
    sim = build_simulator(base)
    life = {t: run_lifetime(dataclasses.replace(base, ambient_c=t), simulator=sim).eol_cycle for t in (25.0, 5.0)}
    assert life[5.0] is not None and life[25.0] is not None and life[5.0] < life[25.0]
