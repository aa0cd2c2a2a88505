"""Result parts that check the engines against references: PyBaMM, the cycle-by-cycle run, the literature on cold.

Registered by :mod:`eomctl.reproduce.parts`:

- ``validation``: the simulator against ``pybamm.Simulation`` (:mod:`eomctl.bench.validation`), lifetime cycling
  against PyBaMM's own Experiment cycling (:mod:`eomctl.bench.lifetime`, part 1) and, in the full run, the fast
  (extrapolated) lifetime against the cycle-by-cycle run to 80 % SOH (part 2);
- ``cold_life``: the same 2C CC-CV fast charge at 25 C and at 0 C ambient to end of life, with every degradation rate
  constant multiplied by one factor (:attr:`eomctl.lifetime.engine.LifetimeConfig.aging_acceleration`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from eomctl.bench import lifetime as bench_lifetime
from eomctl.bench import validation
from eomctl.lifetime.compare import sweep_lifetime
from eomctl.lifetime.engine import LifetimeConfig
from eomctl.plotting.lifetime import plot_lifetime
from eomctl.reproduce.part import KeyNumber, PartResult, flat_text

COLD_AMBIENTS_C = (25.0, 0.0)
COLD_POLICY = "cccv:rate=2C,vmax=4.2,cutoff=C/20"
COLD_ACCELERATION = {True: 1000.0, False: 300.0}  # quick, full
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
    The same fast charge (CC-CV 2C to 80 % SOC under the FastCharge limits, 10 min rests, 1C discharge) at 25 C and
    at 0 C ambient, LG M50 SPMe with SEI growth and partially reversible lithium plating (O'Kane 2022), to 80 % SOH
    with the fast lifetime mode. Every degradation rate constant (SEI, plating, dead-lithium formation) is multiplied
    by the factor shown, so that end of life comes within about a thousand cycles with the mechanisms' balance kept.
    Accelerating the SEI alone makes the thermally activated SEI dominate and the cold cell live longer; with all
    rates scaled the cold cell plates more lithium and reaches end of life first, as the literature on low-temperature
    fast charging reports. Charge times differ: the same protocol charges more slowly in the cold as the cell ages
    (a longer CV phase) and is held back by the 45 C limit in the warm cell early on.
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


def cold_life_part(out_dir: Path, quick: bool, executor: str) -> PartResult:
    """The same fast charge at 25 C and at 0 C ambient to end of life (all degradation rates accelerated alike)."""
    acceleration = COLD_ACCELERATION[quick]
    base = LifetimeConfig(
        policy=COLD_POLICY,
        loss_of_active_material=False,
        rpt_every=50 if quick else 100,
        max_cycles=250 if quick else 4000,
        fast=True,
        aging_acceleration=acceleration,
    )
    results = sweep_lifetime(
        [COLD_POLICY],
        [base.cell],
        COLD_AMBIENTS_C,
        base=base,
        out_dir=out_dir,
        executor="serial",
        checkpoint=out_dir / "sweep.ckpt.json",
    )
    table, files = [], []
    for result in results:
        # Renamed for the legend of the figure (the sweep numbers its files); a resumed sweep finds them moved.
        target = out_dir / f"life_{result['ambient_c']:g}C.csv"
        if Path(result["csv"]).is_file():
            shutil.move(result["csv"], target)
        files.append(target)
        table.append(
            {
                "ambient_c": result["ambient_c"],
                "aging_acceleration": acceleration,
                "eol_cycle": result["eol_cycle"],
                "plating_ah_final": result["plating_ah"],
                "lli_pct_final": result["lli_pct"],
                "first_charge_time_s": result["charge_time_s"],
                "last_charge_time_s": result["last_charge_time_s"],
                "cycles": result["cycles"],
                "cycles_simulated": result["cycles_simulated"],
            }
        )
    figure = plot_lifetime(files, out_dir / "cold_life.png", eol_soh=base.eol_soh)
    life = {row["ambient_c"]: row["eol_cycle"] for row in table}
    warm, cold = life.get(COLD_AMBIENTS_C[0]), life.get(COLD_AMBIENTS_C[1])
    change = 100.0 * (cold / warm - 1.0) if warm and cold else None
    how = f"EOL at 0 C vs 25 C, CC-CV 2C, all degradation rates x{acceleration:g}, fast mode"
    if change is None:
        how = f"end of life not reached at both ambients within {base.max_cycles} cycles (EOL: {life})"
    numbers = {"cold_life_change_pct": KeyNumber(change, "%", how)}
    return PartResult(flat_text(COLD_TEXT), [*files, figure], {"cold_life": table}, numbers)
