"""Lifetime engine vs PyBaMM's own Experiment cycling, and fast (extrapolated) vs cycle-by-cycle to end of life.

Part 1 (``--cycles N``): the same model (SPMe, lumped thermal, heat of mixing, contact resistance, SEI + plating
[+ LAM]), the same parameter values and the same protocol (CC 1C to 4.2 V, CV to C/20, rest 10 min, 1C discharge to
2.5 V, rest 10 min) run N cycles by eomctl's cycling engine (the ``cccv`` policy is recognised: its charge is one
controlled phase, CC then CV, :func:`eomctl.lifetime.cycling.charge_cccv`), by the same engine on its earlier path (see
:func:`eomctl_cycles`) and by ``pybamm.Simulation(experiment=...)``. Reports the discharge capacity of cycle N and the
LLI after N cycles, their relative differences, and cycles per second of each (model build excluded).

Part 2 (``--eol``): an accelerated-aging run to 80 % SOH (SEI solvent diffusivity x 2000 by default, so that end of
life comes within a few hundred cycles; ``--eol-acceleration 500`` for a longer life), cycle by cycle and with
``fast=True`` on one simulator: EOL cycle, cycles simulated and cycling wall time (build excluded) of both, and their
ratio. Progress goes to stderr.

Usage: ``python benchmarks/bench_lifetime.py --cycles 20`` / ``python benchmarks/bench_lifetime.py --eol``.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any

from eomctl.cell.simulator import CellSimulator
from eomctl.lifetime.engine import LifetimeConfig, build_simulator, run_lifetime

PROTOCOL = (
    "Charge at 1C until 4.2 V",
    "Hold at 4.2 V until C/20",
    "Rest for 10 minutes",
    "Discharge at 1C until 2.5 V",
    "Rest for 10 minutes",
)
# Accelerated aging for part 2: SEI solvent diffusivity x 2000 (O'Kane 2022's value 2.5e-22 m2/s), so that 80 % SOH
# comes within a few hundred cycles instead of many thousands (solvent-diffusion-limited growth ~ sqrt(D t)).
SEI_SOLVENT_DIFFUSIVITY_M2_PER_S = 2.5e-22
ACCELERATION = 2000.0


def eomctl_cycles(config: LifetimeConfig, earlier_path: bool = False) -> dict[str, Any]:
    """N cycles with eomctl's engine: capacity of the last discharge, LLI, wall time (build excluded).

    ``earlier_path=True`` runs the paths this engine had before its throughput work: every call at most
    ``MAX_CHUNK_S`` long (``few_calls=False``), the CC phase a constant-current step root-found at 4.2 V and the CV
    phase voltage-hold intervals each bracketed afresh (``limit_control="search"``). The default runs each charge as
    one controlled phase (:meth:`~eomctl.cell.simulator.CellSimulator.charge_until`).
    """
    started = time.perf_counter()
    sim = build_simulator(config)
    if earlier_path:
        sim = CellSimulator(sim.cell, dataclasses.replace(sim.config, few_calls=False, limit_control="search"))
    result = run_lifetime(config, simulator=sim)
    rows = result.rows
    return {
        "capacity_ah": rows[-1]["discharge_ah"],
        "lli_pct": rows[-1]["lli_pct"],
        "sei_ah": rows[-1]["sei_ah"],
        "plating_ah": rows[-1]["plating_ah"],
        "wall_s": result.extra["cycling_s"],
        "build_s": result.extra["build_s"],
        "total_s": time.perf_counter() - started,
    }


def pybamm_cycles(config: LifetimeConfig) -> dict[str, Any]:
    """The same N cycles with PyBaMM's Experiment on the same model options and parameter values."""
    import pybamm

    sim = build_simulator(config)
    values = sim.parameter_values
    x0, _, _, y0 = sim.stoichiometry_window()
    values.update(
        {
            "Initial concentration in negative electrode [mol.m-3]": x0
            * values["Maximum concentration in negative electrode [mol.m-3]"],
            "Initial concentration in positive electrode [mol.m-3]": y0
            * values["Maximum concentration in positive electrode [mol.m-3]"],
            "Ambient temperature [K]": config.ambient_c + 273.15,
            "Initial temperature [K]": config.ambient_c + 273.15,
        },
        check_already_exists=False,
    )
    model = pybamm.lithium_ion.SPMe(dict(sim.options))
    experiment = pybamm.Experiment([PROTOCOL] * config.max_cycles)
    started = time.perf_counter()
    simulation = pybamm.Simulation(model, parameter_values=values, experiment=experiment)
    simulation.build_for_experiment()
    build_s = time.perf_counter() - started
    solution = simulation.solve()
    wall_s = time.perf_counter() - started - build_s
    last = solution.cycles[-1].steps[3]
    capacity = last["Discharge capacity [A.h]"].entries
    return {
        "capacity_ah": float(capacity[-1] - capacity[0]),
        "lli_pct": float(solution["Loss of lithium inventory [%]"].entries[-1]),
        "sei_ah": float(solution["Loss of capacity to negative SEI [A.h]"].entries[-1]),
        "plating_ah": float(solution["Loss of capacity to negative lithium plating [A.h]"].entries[-1]),
        "wall_s": wall_s,
        "build_s": build_s,
    }


def compare_pybamm(cycles: int, lam: bool) -> dict[str, Any]:
    """Part 1."""
    # PyBaMM's own plating kinetics on both sides: the check is of the engine, on the same model.
    config = LifetimeConfig(
        max_cycles=cycles, rpt=False, target_soc=1.0, discharge="1C", rest_s=600.0, loss_of_active_material=lam,
        plating_kinetics="pybamm",
    )  # fmt: skip
    ours, theirs = eomctl_cycles(config), pybamm_cycles(config)
    before = eomctl_cycles(config, earlier_path=True)
    out = {
        "cycles": cycles,
        "lam": lam,
        "eomctl": ours,
        "pybamm": theirs,
        "eomctl_earlier_path": before,
        "earlier_path_speedup": before["wall_s"] / ours["wall_s"],
        "earlier_path_lli_rel_diff_pct": 100 * (ours["lli_pct"] / before["lli_pct"] - 1),
        "earlier_path_capacity_rel_diff_pct": 100 * (ours["capacity_ah"] / before["capacity_ah"] - 1),
        "capacity_rel_diff_pct": 100 * (ours["capacity_ah"] / theirs["capacity_ah"] - 1),
        "lli_rel_diff_pct": 100 * (ours["lli_pct"] / theirs["lli_pct"] - 1),
        "eomctl_cycles_per_s": cycles / ours["wall_s"],
        "pybamm_cycles_per_s": cycles / theirs["wall_s"],
    }
    return out


def compare_fast(max_cycles: int, ambient_c: float, rpt_every: int, acceleration: float) -> dict[str, Any]:
    """Part 2: ``acceleration`` multiplies the SEI solvent diffusivity."""
    overrides = (("SEI solvent diffusivity [m2.s-1]", SEI_SOLVENT_DIFFUSIVITY_M2_PER_S * acceleration),)
    base = LifetimeConfig(
        ambient_c=ambient_c,
        max_cycles=max_cycles,
        rpt_every=rpt_every,
        cell_overrides=overrides,
        loss_of_active_material=False,
    )
    sim = build_simulator(base)

    def progress(row: dict[str, float]) -> None:
        if row["rpt"]:
            print(f"  cycle {row['cycle']:.0f}: SOH {row['soh']:.4f}", file=sys.stderr, flush=True)

    slow = run_lifetime(base, simulator=sim, on_row=progress)
    fast = run_lifetime(dataclasses.replace(base, fast=True), simulator=sim, on_row=progress)
    out: dict[str, Any] = {"config": dataclasses.asdict(base)}
    for name, res in (("cycle_by_cycle", slow), ("fast", fast)):
        out[name] = {
            "eol_cycle": res.eol_cycle,
            "cycles_simulated": res.cycles_simulated,
            "cycling_s": res.extra["cycling_s"],
            "rpt_soh": [(r["cycle"], r["soh"]) for r in res.rows if r["rpt"]],
        }
    if slow.eol_cycle and fast.eol_cycle:
        out["eol_rel_diff_pct"] = 100 * (fast.eol_cycle / slow.eol_cycle - 1)
    out["speedup"] = slow.extra["cycling_s"] / fast.extra["cycling_s"]
    return out
