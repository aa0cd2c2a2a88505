"""Result parts that check the engines against references: PyBaMM, the cycle-by-cycle run, the literature on cold.

Registered by :mod:`eomctl.reproduce.parts`:

- ``validation``: the simulator against ``pybamm.Simulation`` (:mod:`eomctl.bench.validation`), lifetime cycling
  against PyBaMM's own Experiment cycling (:mod:`eomctl.bench.lifetime`, part 1) and, in the full run, the fast
  (extrapolated) lifetime against the cycle-by-cycle run to 80 % SOH (part 2);
- ``cold_life``: the same 2C CC-CV fast charge at 25 C and at 0 C ambient to end of life, unaccelerated (fast mode).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from eomctl.bench import lifetime as bench_lifetime
from eomctl.bench import validation
from eomctl.core.executor import run_tasks
from eomctl.core.io import read_csv
from eomctl.lifetime.compare import lifetime_task, lifetime_task_kwargs
from eomctl.lifetime.engine import LifetimeConfig
from eomctl.plotting.lifetime import plot_lifetime
from eomctl.reproduce.part import KeyNumber, PartResult, flat_text

COLD_AMBIENTS_C = (25.0, 0.0)
COLD_POLICY = "cccv:rate=2C,vmax=4.2,cutoff=C/20"
# Unaccelerated. Multiplying every degradation rate constant by one factor (aging_acceleration) does not keep the
# mechanisms' balance under the consistent plating law: the plating and stripping exchange currents grow alike, so
# the same overpotential strips plated lithium back faster and the loss per cycle grows far less than the factor. At
# x300 the 0 C cell outlived the 25 C cell (EOL 3519 vs 1865 cycles), the reverse of the unaccelerated order.
COLD_MAX_CYCLES = {True: 600, False: 12_000}  # quick (no end of life: SOH compared at the cap), full
COLD_RPT_EVERY = {True: 100, False: 200}
COLD_SOAK_S = 4 * 3600.0  # rests of the cold-soaked case: the cell returns to the ambient before each charge
COLD_SOAK_MAX_CYCLES = {True: 100, False: 3_000}  # compared with the 10 min-rest cell at equal cycles
FAST_ACCELERATIONS = (2000.0, 500.0)  # SEI solvent diffusivity factors of the fast-vs-slow runs (full run only)

VALIDATION_TEXT = """
    Three checks against references. (1) The simulator against pybamm.Simulation on the same model, options, cell and
    initial SOC (Chen2020, SPMe, lumped thermal; 1C CC to 4.2 V, CV to C/20, 3 h rest; 10 s output), at PyBaMM's
    default tolerances and at rtol 1e-8: voltage RMSE, largest temperature difference, entropy produced and
    irreversible heat against PyBaMM's own heat sources. (2) Lifetime cycling (LG M50, SPMe, SEI + plating, 1C CC-CV
    to C/20, 10 min rests, 1C discharge) against PyBaMM's Experiment cycling of the same model: capacity and lithium
    inventory loss after N cycles, and the cycles per second of both in the same run. (3) Full run only: the fast
    lifetime (adaptive inter-cycle extrapolation) against the cycle-by-cycle run to 80 % SOH (1C CC-CV to 80 % SOC,
    SEI growth accelerated by the factor shown so the run ends within hundreds to a thousand cycles): end-of-life
    cycle, cycles simulated and the ratio of cycling time.
"""
COLD_TEXT = """
    The same fast charge (CC-CV 2C to 80 % SOC, 4.2 V, 45 C limit, no anode-potential limit: a charger cannot measure
    it; 10 min rests, 1C discharge) at 25 C and at 0 C ambient, LG M50 SPMe with SEI growth and the consistent,
    Arrhenius lithium-plating law (docs/plating.md) and PyBaMM's stress-driven loss of active material (as the
    lifetime command runs this cell), to 80 % SOH with the fast lifetime mode, unaccelerated. The cold
    cell loses lithium to plating every cycle and reaches end of life first; the warm cell loses it to SEI growth
    alone. In that cycling each charge starts 10 min after a 1C discharge that warmed the cell (to about 13 C at the
    charge's start from 0 C ambient); a third case rests 4 h instead, so every charge starts cold-soaked at 0 C,
    run for 3000 cycles and compared with the first at equal cycles.
    Accelerating the rate constants is not used here: it speeds up stripping as much as plating and reverses the
    order (docs/lifetime.md). Charge times differ: the 45 C limit holds the warm cell back early in each charge, and
    the cold cell's CV phase lengthens as it ages.
"""


def _simulator_rows() -> list[dict[str, Any]]:
    return list(validation.compare("Chen2020", "SPMe", 10.0))


def _cycling_row(cycles: int) -> dict[str, Any]:
    result = bench_lifetime.compare_pybamm(cycles, False)
    ours, theirs = result["eomctl"], result["pybamm"]
    return {
        "cycles": cycles,
        "capacity_ah_eomctl": ours["capacity_ah"],
        "capacity_ah_pybamm": theirs["capacity_ah"],
        "capacity_diff_pct": result["capacity_rel_diff_pct"],
        "lli_pct_eomctl": ours["lli_pct"],
        "lli_pct_pybamm": theirs["lli_pct"],
        "lli_rel_diff_pct": result["lli_rel_diff_pct"],
        "cycles_per_s_eomctl": result["eomctl_cycles_per_s"],
        "cycles_per_s_pybamm": result["pybamm_cycles_per_s"],
        # The same cycles on the engine's path before its throughput work (eomctl_cycles(earlier_path=True)),
        # measured in the same run.
        "cycles_per_s_eomctl_earlier_path": cycles / result["eomctl_earlier_path"]["wall_s"],
        "earlier_path_speedup_x": result["earlier_path_speedup"],
        "earlier_path_lli_rel_diff_pct": result["earlier_path_lli_rel_diff_pct"],
    }


def _fast_row(acceleration: float) -> dict[str, Any]:
    max_cycles = 1500 if acceleration >= 2000 else 3000
    result = bench_lifetime.compare_fast(max_cycles, 25.0, 100, acceleration)
    slow, fast = result["cycle_by_cycle"], result["fast"]
    return {
        "sei_acceleration": acceleration,
        "eol_cycle_by_cycle": slow["eol_cycle"],
        "eol_fast": fast["eol_cycle"],
        "eol_diff_pct": result.get("eol_rel_diff_pct"),
        "cycles_simulated_cycle_by_cycle": slow["cycles_simulated"],
        "cycles_simulated_fast": fast["cycles_simulated"],
        "cycling_s_cycle_by_cycle": slow["cycling_s"],
        "cycling_s_fast": fast["cycling_s"],
        "speedup_x": result["speedup"],
    }


def validation_part(out_dir: Path, quick: bool, executor: str) -> PartResult:
    """Simulator and cycling against PyBaMM; fast lifetime against cycle by cycle (full run)."""
    simulator = _simulator_rows()
    cycling = [_cycling_row(20 if quick else 100)]
    tables: dict[str, list[dict[str, Any]]] = {"simulator_vs_pybamm": simulator, "cycling_vs_pybamm": cycling}
    numbers = {
        "simulator_voltage_rmse_mv": KeyNumber(
            simulator[-1]["voltage_rmse_mv"], "mV", "eomctl vs pybamm.Simulation at rtol 1e-8, Chen2020 SPMe lumped"
        ),
        "cycling_capacity_diff_pct": KeyNumber(
            cycling[0]["capacity_diff_pct"], "%", f"after {cycling[0]['cycles']} CC-CV cycles, eomctl vs PyBaMM"
        ),
    }
    if quick:  # the runs to end of life, cycle by cycle, take about half an hour
        skipped = "full run only: fast vs cycle-by-cycle runs to 80 % SOH"
        numbers["fast_eol_diff_pct"] = KeyNumber(None, "%", skipped)
        numbers["fast_speedup_x"] = KeyNumber(None, "x", skipped)
    else:
        fast = [_fast_row(a) for a in FAST_ACCELERATIONS]
        tables["fast_vs_cycle_by_cycle"] = fast
        longest = fast[-1]
        numbers["fast_eol_diff_pct"] = KeyNumber(
            longest["eol_diff_pct"], "%", f"fast vs cycle-by-cycle EOL, SEI x{longest['sei_acceleration']:g}"
        )
        numbers["fast_speedup_x"] = KeyNumber(
            longest["speedup_x"], "x", f"cycling time, SEI x{longest['sei_acceleration']:g}"
        )
    return PartResult(flat_text(VALIDATION_TEXT), [], tables, numbers)


def _soh_at(path: Path, cycle: float) -> float:
    """SOH of a lifetime CSV at ``cycle``, linear between its reference tests."""
    data = read_csv(path)
    rpt = data["rpt"] > 0.5
    return float(np.interp(cycle, data["cycle"][rpt], data["soh"][rpt]))


def _cycles(eol: float | None) -> str:
    return "no EOL" if eol is None else f"{eol:.0f} cycles"


def cold_life_part(out_dir: Path, quick: bool, executor: str) -> PartResult:
    """The same fast charge at 25 C and at 0 C ambient to end of life, unaccelerated; and at 0 C after a cold soak."""
    base = LifetimeConfig(
        policy=COLD_POLICY,  # stress-driven LAM on, as the lifetime command runs this cell (see docs/lifetime.md)
        rpt_every=COLD_RPT_EVERY[quick],
        max_cycles=COLD_MAX_CYCLES[quick],
        fast=True,
        fast_max_jump=200,  # unaccelerated fade is slow and smooth: the jump's own error check still bounds each jump
    )
    cases = [(f"{ambient_c:g} C", dataclasses.replace(base, ambient_c=ambient_c)) for ambient_c in COLD_AMBIENTS_C]
    # A 1C discharge warms the cell from 0 C to ~27 C and a 10 min rest leaves it at ~13 C when the charge starts; a
    # cell charged after a night outside starts at the ambient: rests long enough to cool it (time constant ~1 h).
    soaked = dataclasses.replace(
        base, ambient_c=COLD_AMBIENTS_C[1], rest_s=COLD_SOAK_S, max_cycles=COLD_SOAK_MAX_CYCLES[quick]
    )
    cases.append(("0 C, cold-soaked", soaked))
    kwargs_list = []
    for label, config in cases:
        path = out_dir / f"life_{label.replace(' ', '').replace(',', '_')}.csv"
        kwargs_list.append(lifetime_task_kwargs(config, path))
    results = run_tasks(lifetime_task, kwargs_list, executor=executor, checkpoint=out_dir / "sweep.ckpt.json")
    table = [
        {
            "case": label,
            "ambient_c": config.ambient_c,
            "rest_s": config.rest_s,
            "eol_cycle": result["eol_cycle"],
            "final_soh": result["final_soh"],
            "plating_ah_final": result["plating_ah"],
            "lli_pct_final": result["lli_pct"],
            "first_charge_time_s": result["charge_time_s"],
            "last_charge_time_s": result["last_charge_time_s"],
            "cycles": result["cycles"],
            "cycles_simulated": result["cycles_simulated"],
        }
        for (label, config), result in zip(cases, results, strict=True)
    ]
    files = [Path(kwargs["csv_path"]) for kwargs in kwargs_list]
    figure = plot_lifetime(files, out_dir / "cold_life.png", eol_soh=base.eol_soh)
    warm, cold = table[0]["eol_cycle"], table[1]["eol_cycle"]
    change = 100.0 * (cold / warm - 1.0) if warm and cold else None
    how = f"EOL at 0 C ({_cycles(cold)}) vs 25 C ({_cycles(warm)}), CC-CV 2C, unaccelerated, fast mode"
    caveat = ""
    if cold and not warm:
        # The warm cell outlived the cycle cap: the change is at most this (its life is at least the cap).
        change = 100.0 * (cold / base.max_cycles - 1.0)
        how = (
            f"at most (the 25 C cell outlived the cap): EOL at 0 C {cold:.0f} cycles; 25 C none within "
            f"{base.max_cycles} cycles (SOH {table[0]['final_soh']:.3f}); CC-CV 2C, unaccelerated, fast mode"
        )
        caveat = f"at most: the 25 C cell had not reached end of life at the {base.max_cycles}-cycle cap"
    elif change is None:
        soh = {row["case"]: row["final_soh"] for row in table}
        how = f"end of life not reached in both within {base.max_cycles} cycles (SOH {soh})"
    cycles = soaked.max_cycles
    warm_cycled = _soh_at(files[1], cycles)
    soaked_fade = 1.0 - table[2]["final_soh"] if table[2]["final_soh"] is not None else None
    ratio = soaked_fade / (1.0 - warm_cycled) if soaked_fade is not None and warm_cycled < 1.0 else None
    soaked_how = (
        f"capacity fade after {cycles} cycles at 0 C, {COLD_SOAK_S / 3600:g} h rests (charges from 0 C) over 10 min "
        f"rests (charges from ~13 C): SOH {table[2]['final_soh']:.4f} vs {warm_cycled:.4f}"
    )
    numbers = {
        "cold_life_change_pct": KeyNumber(change, "%", how, caveat),
        "cold_soaked_fade_ratio": KeyNumber(ratio, "x", soaked_how),
    }
    return PartResult(flat_text(COLD_TEXT), [*files, figure], {"cold_life": table}, numbers)
