"""The ``bound`` part: the optimal-control bound beside every baseline, at each baseline's charge time and start.

Per scenario (FastCharge, ColdCharge at 0 C, AgedCell, LFPFastCharge) each baseline of
:data:`eomctl.evaluation.yardstick.BASELINE_SPECS` runs one episode (seed 0) at the env's own 30 s step with the env's
in-step limit controller; the bound over the requests through that controller is solved for that episode's start at
its charge time (:func:`eomctl.evaluation.yardstick.bound_vs_baseline`) and replayed at a tenth of a step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from eomctl.core.executor import run_tasks
from eomctl.evaluation.yardstick import BASELINE_SPECS, bound_vs_baseline
from eomctl.reproduce.part import KeyNumber, PartResult, flat_text

# (env, overrides, baseline family): ColdCharge pinned to 0 C ambient, its coldest draw.
SCENARIOS: tuple[tuple[str, dict[str, Any] | None, str], ...] = (
    ("FastCharge", None, "lithium"),
    ("ColdCharge", {"ambient_c": 0.0}, "lithium"),
    ("AgedCell", None, "lithium"),
    ("LFPFastCharge", None, "lfp"),
)
QUICK_SPECS = {"lithium": ("cccv:rate=2C,vmax=4.2,cutoff=C/20",), "lfp": ()}

TEXT = """
    Each baseline charger runs one episode (seed 0) of its scenario at the env's own 30 s control step, with the env's
    limit controller holding voltage, temperature and anode potential inside each step. The optimal-control bound is
    then solved for that episode's own start (SOC, temperatures, aging inputs) at the baseline's charge time: the
    entropy objective over the current requests on the env's own steps (the last one cut at the charge time), each
    step run through the env's limit controller as the env runs it, 20 hat-function directions, exact derivatives
    (CVODES/IDAS forward sensitivities; central differences for a step where they fail), SLSQP, started from the
    best of the matched-time CC-CV request, the baseline's own requests and the optimum of the piecewise-constant
    class (solved first, capped at 120 s), so every baseline is a point of the feasible set. The optimum is replayed
    step by step
    (entropy, SOC, lithium loss) and at a tenth of a step (peak temperature, minimum anode potential, how far any
    limit is passed). gap_pct = (baseline - bound) / baseline entropy, the baseline replayed to its charge time the
    same way, under its own limits where it sets them (CC-CO's anode margin): the bound holds where it is >= 0.
    solve_s is the request solve; start_solve_s the piecewise-constant one before it. Times were measured with two
    rows running side by side on a 2-core machine.
"""


def bound_part(out_dir: Path, quick: bool, executor: str) -> PartResult:
    """The bound against each baseline at the same charge time and start, per scenario."""
    kwargs_list = []
    for env_id, overrides, family in SCENARIOS[:1] if quick else SCENARIOS:
        for spec in QUICK_SPECS[family] if quick else BASELINE_SPECS[family]:
            kwargs_list.append({"env_id": env_id, "spec": spec, "overrides": overrides, "seed": 0})
    rows = run_tasks(bound_vs_baseline, kwargs_list, executor=executor, max_workers=2,
                     checkpoint=out_dir / "bound.ckpt.json")  # fmt: skip
    for row in rows:  # a bound counts where it converged and its fine replay keeps every limit (1 mV, 0.05 K)
        row["bound_valid"] = bool(
            not row.get("error") and row["converged"] and row["fine_voltage_excess_mv"] <= 1.0
            and row["fine_anode_excess_mv"] <= 1.0 and row["fine_temperature_excess_k"] <= 0.05
        )  # fmt: skip
    solved = [r for r in rows if r["bound_valid"]]
    numbers: dict[str, KeyNumber] = {}
    if solved:
        gaps = np.array([r["gap_pct"] for r in solved])
        solve_s = np.array([r["solve_s"] for r in rows if not r.get("error")])
        total_s = np.array([r["solve_s"] + np.nan_to_num(r["start_solve_s"]) for r in rows if not r.get("error")])
        excess = max(max(r["fine_voltage_excess_mv"], r["fine_anode_excess_mv"]) for r in solved)
        numbers = {
            "bound_holds_fraction": KeyNumber(
                float(np.mean(gaps >= 0.0)),
                "",
                f"bound <= baseline in {int(np.sum(gaps >= 0))} of {len(gaps)} rows with a valid bound; no valid"
                f" bound in {len(rows) - len(solved)} of {len(rows)} rows",
            ),
            "bound_min_gap_pct": KeyNumber(float(gaps.min()), "%", "smallest (baseline - bound) / baseline"),
            "bound_median_solve_s": KeyNumber(
                float(np.median(solve_s)), "s", f"all solves, two side by side on 2 cores; max {solve_s.max():.0f} s"
            ),
            "bound_median_total_solve_s": KeyNumber(
                float(np.median(total_s)), "s", "with the piecewise-constant solve that gives the second start"
            ),
            "bound_optimal_fraction": KeyNumber(
                float(np.mean([r["converged"] for r in rows if not r.get("error")])), "", "status 'optimal', all solves"
            ),
            "bound_fine_excess_mv": KeyNumber(
                float(excess), "mV", "largest voltage or anode-potential excess, 1/10 step"
            ),
            "bound_fine_excess_k": KeyNumber(
                float(max(r["fine_temperature_excess_k"] for r in solved)), "K", "largest temperature excess, 1/10 step"
            ),
        }
    return PartResult(flat_text(TEXT), [], {"bound_vs_baselines": rows}, numbers)
