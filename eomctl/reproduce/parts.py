"""The parts :mod:`eomctl.reproduce.runner` runs, the research's claims beside them, and the key-results table.

The parts, in running order (:data:`PARTS`):

| part | what | module of :mod:`eomctl.reproduce` |
|---|---|---|
| ``performance`` | eomctl against PyBaMM: ms per step, env steps per second (:mod:`eomctl.bench`) | here |
| ``plating`` | plating rate law; plated and irreversible lithium of CC-CV charges by C-rate and ambient | plating |
| ``protocols`` | CC-CV at 0.5C / 1C / 2C and other baselines, NMC and LFP, vs matched-time CC-CV | charging |
| ``pareto`` | the charge-time / entropy / LLI Pareto manifold and the EEZ | charging |
| ``bound`` | the optimal-control bound beside every baseline at the same charge time and start | bound |
| ``policy`` | every shipped policy vs the chargers tuned to its charge time, on held-out draws | charging |
| ``policy_life`` | cycle life, cold policy vs matched BMS chargers, -10 to 10 C; plating-free ceiling | policy_life |
| ``lifetime`` | cycle life under the shipped policy and matched-time CC-CV | life |
| ``analytics``, ``bridge`` | EOM quantities, energy-entropy balance; entropy-impedance bridge | analytics |
| ``prognostics`` | SOH / RUL from early cycles, simulated fleet and real data | life |
| ``training`` | wall time of the default training command | charging |
| ``validation`` | simulator and cycling against PyBaMM; fast lifetime against cycle by cycle | checks |
| ``cold_life`` | the same fast charge at 25 C, at 0 C and at 0 C cold-soaked to end of life | checks |
| ``lfp_aging`` | the A123-LFP cycle life beside Wang et al. 2011's model of the same cell | lfp_aging |

The key-results rows (:data:`KEY_ROWS`) read each part's ``key_numbers.json`` by name.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eomctl.bench import env as bench_env
from eomctl.bench import simulator as bench_simulator
from eomctl.bench import throughput as bench_throughput
from eomctl.cell.catalogue import load_cell
from eomctl.plotting.performance import plot_performance
from eomctl.reproduce.analytics import BRIDGE_STATES, analytics_part, bridge_part
from eomctl.reproduce.bound import bound_part
from eomctl.reproduce.charging import POLICY_FILES, pareto_part, policy_part, protocols_part, training_part
from eomctl.reproduce.checks import cold_life_part, validation_part
from eomctl.reproduce.lfp_aging import lfp_aging_part
from eomctl.reproduce.life import LIFE_POLICY, lifetime_part, prognostics_part
from eomctl.reproduce.part import (
    KEY_NUMBERS_FILE,
    PERFORMANCE_PART,
    PERFORMANCE_TABLE,
    KeyNumber,
    Part,
    PartResult,
)
from eomctl.reproduce.plating import plating_part
from eomctl.reproduce.policy_life import AMBIENTS_C, COLD_POLICY, COLDEST_C, policy_life_part
from eomctl.reproduce.policy_life import checkpoint_names as policy_life_checkpoints
from eomctl.reproduce.scorecard import SHIPPED_POLICIES


# ------------------------------------------------------------------------------------------------ performance
def _simulator_rows(quick: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    steps, repeats, cases = (60, 2, ["SPMe"]) if quick else (200, 3, list(bench_simulator.CASES))
    args = bench_simulator.Timing(steps=steps, dt=30.0, repeats=repeats)
    cell = load_cell(bench_simulator.CELL)
    current_a = bench_simulator.charging_current(cell, steps, args.dt, None)
    paths, compared = [], []
    for name in cases:
        case = bench_simulator.run_case(cell, name, current_a, args)
        for row in case.rows:
            paths.append({"case": name, "path": row.name, "wall_ms_per_step": row.median_ms,
                          "cpu_ms_per_step": row.median_cpu_ms, "build_s": row.build_s if row.build_s else "",
                          "final_voltage_v": row.final_voltage_v, "options_matched": int(case.matched)})  # fmt: skip
        jit, _nojit, bare, pb_save, pb_nosave = case.rows
        for other in (pb_save, pb_nosave, bare):
            compared.append({"benchmark": "simulator step", "case": name, "eomctl": jit.name,
                             "eomctl_value": jit.median_cpu_ms, "reference": other.name,
                             "reference_value": other.median_cpu_ms, "unit": "CPU ms/step",
                             "eomctl_advantage_x": other.median_cpu_ms / jit.median_cpu_ms})  # fmt: skip
    return paths, compared


def _env_rows(quick: bool) -> tuple[list[dict[str, Any]], float]:
    result = bench_env.measure("FastCharge", 20 if quick else 40, False, [2] if quick else [2, 4, 8])
    rows = [{"benchmark": "env steps/s", "case": label, "eomctl": "ChargingEnv (no jit)", "eomctl_value": ours,
             "reference": "PyBaMM Simulation.step env", "reference_value": theirs, "unit": "steps/s",
             "eomctl_advantage_x": ours / theirs} for label, ours, theirs in result.rows]  # fmt: skip
    return rows, result.env_step_s / result.sim_step_s


def _throughput_rows(quick: bool) -> list[dict[str, Any]]:
    """The limit controller against the constant-current search, and a batched vector env against a single env
    (:mod:`eomctl.bench.throughput`), FastCharge under uniform random actions."""
    steps = 100 if quick else 300
    single = {path: bench_throughput.env_steps("FastCharge", path, steps) for path in bench_throughput.PATHS}
    rows = [{"configuration": f"single env, limit_control={path}", "env_steps_per_s": row["steps_per_s"],
             "calls_per_step": row["calls_per_step"], "ratio_x": row["steps_per_s"] / single["search"]["steps_per_s"],
             "against": "single env, limit_control=search"} for path, row in single.items()]  # fmt: skip
    for n in (4,) if quick else (4, 16):
        batched = bench_throughput.batched_env_steps("FastCharge", n, max(steps // n, 8))
        rows.append({"configuration": f"batched vector env x{n}, {batched['threads']} threads",
                     "env_steps_per_s": batched["steps_per_s"], "calls_per_step": "",
                     "ratio_x": batched["steps_per_s"] / single["controller"]["steps_per_s"],
                     "against": "single env, limit_control=controller"})  # fmt: skip
    return rows


def performance_part(out_dir: Path, quick: bool, executor: str) -> PartResult:
    """Time eomctl against PyBaMM (:mod:`eomctl.bench.simulator`, :mod:`eomctl.bench.env`) and its limit paths
    against each other (:mod:`eomctl.bench.throughput`), in this process."""
    paths, compared = _simulator_rows(quick)
    env_rows, env_over_sim = _env_rows(quick)
    throughput = _throughput_rows(quick)
    spme = [r for r in compared if r["case"] == "SPMe"]
    numbers = {
        "speedup_spme_x": KeyNumber(spme[0]["eomctl_advantage_x"], "x", "PyBaMM Simulation.step (save=True, IDAKLU) "
                                    "CPU ms per 30 s step over eomctl's JIT-compiled step, SPMe lumped, LG M50, 1C"),
        "speedup_spme_nosave_x": KeyNumber(spme[1]["eomctl_advantage_x"], "x", "as above with save=False"),
        "env_single_ratio_x": KeyNumber(env_rows[0]["eomctl_advantage_x"], "x", "single-env steps/s, eomctl over a "
                                        "PyBaMM Simulation.step env (FastCharge, no JIT, 1C)"),
        "env_over_simulator_x": KeyNumber(env_over_sim, "x", "ChargingEnv.step time over the CellSimulator.step "
                                          "beneath it"),
    }  # fmt: skip
    figure = plot_performance(paths, out_dir / "simulator_ms_per_step.png")
    paragraph = (
        "Per-step cost of eomctl's compiled CasADi stepping against PyBaMM's Simulation.step (IDAKLU, default "
        "tolerances, the current as an input parameter, built once) on the same cell (LG M50), model options, "
        "parameters and initial state (10 % SOC), a constant charge below 4.2 V, 30 s steps; medians over repeats of "
        "process CPU time per step (eomctl.bench.simulator, as benchmarks/bench_simulator.py prints it). Env "
        "throughput: eomctl's ChargingEnv against an env on Simulation.step, single and vectorised (eomctl.bench.env). "
        "The machine "
        "may be shared with other jobs: expect +-20 %."
    )
    numbers["controller_over_search_x"] = KeyNumber(
        throughput[0]["ratio_x"],
        "x",
        "single-env steps/s under random actions (FastCharge), limit controller over the constant-current limit search",
    )
    paragraph += (
        " Limit paths: env steps per second under uniform random actions on FastCharge, the limit controller against "
        "the constant-current search, and a batched vector env (one compiled call per vector step) against a single "
        "env (eomctl.bench.throughput, as benchmarks/bench_throughput.py prints it)."
    )
    tables = {PERFORMANCE_TABLE: compared + env_rows, "simulator_paths": paths, "throughput": throughput}
    return PartResult(paragraph, [figure], tables, numbers)


NOT_STATED = "no figure stated by the research or the docs"
RESEARCH = "research hypothesis (docs/index.md)"
SOURCE_EQUAL_TIME = "research hypothesis (docs/index.md); docs/physics.md §5"
CLAIM_EQUAL_TIME = "23-35 % (research); the physics notes expect ~0.3 % at 1C, ~2-3 % at 2C at equal time"
CLAIM_RATES = "23-35 % (research; charge time not stated)"


@dataclass(frozen=True)
class KeyRow:
    """One row of the key-results table: a claim and the key number (of one part) that measures it."""

    result: str
    chemistry: str
    claim: str
    claim_source: str
    part: str
    key: str


def _per_chemistry(result: str, claim: str, source: str, part: str, key: str) -> list[KeyRow]:
    return [KeyRow(result, chem.upper(), claim, source, part, f"{key}_{chem}") for chem in ("nmc", "lfp")]


SOH_CLAIM = "SOH RMSE 1.8 %"
PROGNOSTIC_SPLITS = (
    ("simulated fleet, leave one cell out", "NMC+LFP", "fleet"),
    ("simulated fleet, train NMC -> test LFP", "LFP", "nmc_to_lfp"),
    ("real 44-cell set, retention at cycle 299", "real", "real"),
)
SCORECARD_CHEMISTRY = {"LFPFastCharge": "LFP"}  # every other shipped scenario is the LG M50 (NMC)
KEY_ROWS: tuple[KeyRow, ...] = (
    *(KeyRow(f"Entropy reduction vs CC-CV tuned to the policy's mean charge time, held-out draws, {scenario}",
             SCORECARD_CHEMISTRY.get(scenario, "NMC"), CLAIM_EQUAL_TIME, SOURCE_EQUAL_TIME, "policy",
             f"entropy_reduction_vs_tuned_cccv_pct_{scenario}") for scenario in SHIPPED_POLICIES),
    KeyRow("Entropy reduction vs CC-CV that just meets each draw's deadline (oracle rate per draw), Deadline", "NMC",
           "23-35 % (research); using the slack before a deadline is where the physics notes put large savings",
           SOURCE_EQUAL_TIME, "policy", "entropy_reduction_vs_deadline_cccv_pct_Deadline"),
    KeyRow("Irreversible lithium loss reduction vs the best BMS charger at equal mean charge time, ColdFastCharge",
           "NMC", "no research figure; goal >= 30 % (docs/evaluation.md)", "docs/evaluation.md", "policy",
           "irreversible_reduction_vs_best_bms_pct_ColdFastCharge"),
    *(KeyRow(f"Lifetime extension vs the longer-lived BMS charger at matched repeated charge time, ColdFastCharge "
             f"policy, {a:g} C ambient, {how}", "NMC", "+25 % (research); goal >= 15 % (docs/evaluation.md)", RESEARCH,
             "policy_life", f"cold_policy_lifetime_extension_pct_{a:g}C{suffix}")
      for suffix, how, ambients in (("", "10 min rests", AMBIENTS_C),
                                    ("_soaked", "4 h rests (each charge from a cell at ambient)",
                                     (COLDEST_C, *AMBIENTS_C)))
      for a in ambients),
    *(KeyRow(f"Most life that plating no lithium could add at the same charge time (CC-CV on a cell that cannot "
             f"plate vs the same CC-CV), {a:g} C ambient, {how}", "NMC", "no research figure; the ceiling of the "
             "rows above", "docs/lifetime.md", "policy_life", f"plating_free_lifetime_ceiling_pct_{a:g}C{suffix}")
      for suffix, how, a in (("", "10 min rests", 0.0), ("_soaked", "4 h rests", COLDEST_C),
                             ("_soaked", "4 h rests", 0.0))),
    *(KeyRow(f"Share of the room to the bound captured ({what}), ColdFastCharge", "NMC",
             "no research figure; goal >= 50 % (docs/evaluation.md)", "docs/evaluation.md", "policy",
             f"room_captured_pct_{objective}_ColdFastCharge")
      for objective, what in (("irreversible", "irreversible lithium loss"), ("entropy", "entropy"))),
    *_per_chemistry("Entropy reduction vs CC-CV at matched charge time, trained policy", CLAIM_EQUAL_TIME,
                    SOURCE_EQUAL_TIME, "policy", "entropy_reduction_vs_matched_cccv_pct"),
    *_per_chemistry("Entropy reduction vs CC-CV at matched charge time, best standard protocol", CLAIM_EQUAL_TIME,
                    SOURCE_EQUAL_TIME, "protocols", "best_baseline_entropy_reduction_vs_matched_cccv_pct"),
    *(row for rate in ("0.5C", "1C", "2C") for row in _per_chemistry(
        f"Entropy reduction vs CC-CV {rate} (each at its own charge time), trained policy", CLAIM_RATES,
        RESEARCH, "policy", f"entropy_reduction_vs_cccv_{rate}_pct")),
    *_per_chemistry("Lifetime extension vs CC-CV at matched charge time (cycles to 80 % SOH)", "+25 % (research)",
                    RESEARCH, "lifetime", "lifetime_extension_pct"),
    KeyRow("Bridge: Pearson r, 10 s pulse resistance vs mean R_S", "NMC+LFP",
           "r = 0.71 (research); r = 0.83 on 31 aging states", f"{RESEARCH}; docs/physics.md §4", "bridge",
           "bridge_r_pulse_resistance_vs_rs"),
    KeyRow("Bridge: Pearson r, 10 s pulse resistance vs entropy per coulomb", "NMC+LFP", "r = 0.83 on 31 aging states",
           "docs/physics.md §4", "bridge", "bridge_r_pulse_resistance_vs_entropy_per_coulomb"),
    *_per_chemistry("Bridge: Pearson r, 10 s pulse resistance vs mean R_S", "r = 0.71 (research)", RESEARCH,
                    "bridge", "bridge_r_pulse_resistance_vs_rs"),
    *_per_chemistry("Bridge: Pearson r, 10 s pulse resistance vs entropy per coulomb", "r = 0.71 (research)",
                    RESEARCH, "bridge", "bridge_r_pulse_resistance_vs_entropy_per_coulomb"),
    KeyRow("Bridge: Pearson r, 10 s pulse resistance vs lambda at 600 s", "NMC+LFP",
           "r = 0.71 (research: lambda vs internal resistance); r = 0.20 (physics notes)",
           f"{RESEARCH}; docs/physics.md §4",
           "bridge", "bridge_r_pulse_resistance_vs_lambda"),
    *_per_chemistry("Bridge: Pearson r, 10 s pulse resistance vs lambda at 600 s", "r = 0.71 (research)",
                    RESEARCH, "bridge", "bridge_r_pulse_resistance_vs_lambda"),
    *(KeyRow(f"SOH RMSE, {label}, {features} features", chem, SOH_CLAIM if features == "entropy" else NOT_STATED,
             RESEARCH if features == "entropy" else "-", "prognostics", f"soh_rmse_pct_{key}_{features}")
      for label, chem, key in PROGNOSTIC_SPLITS for features in ("entropy", "severson")),
    *(KeyRow(f"RUL error [cycles], {label}, {features} features", chem, NOT_STATED, "-", "prognostics",
             f"rul_error_cycles_{key}_{features}")
      for label, chem, key in PROGNOSTIC_SPLITS for features in ("entropy", "severson")),
    KeyRow("Simulator speed-up vs PyBaMM Simulation.step (save=True), SPMe lumped", "NMC",
           "target >= 10x", "design target (docs/performance.md)", "performance", "speedup_spme_x"),
    KeyRow("Cycle life at 0 C vs 25 C ambient, same 2C CC-CV fast charge", "NMC",
           "shorter in the cold (plating-dominated below 25 C)", "Waldmann et al., J. Power Sources 262 (2014) 129",
           "cold_life", "cold_life_change_pct"),
    KeyRow("Throughput to 20 % loss, A123 LFP at 40 C, C/2: eomctl / published fit", "LFP",
           "1x (the cell's own aging study; calibrated at 25 C only)",
           "Wang et al., J. Power Sources 196 (2011) 3942", "lfp_aging", "lfp_eol_throughput_ratio_40C_0p5C"),
    KeyRow("Capacity loss, A123 LFP at 25 C, 2C, 3000 cycles: eomctl / published fit", "LFP",
           "1x (the cell's own aging study; calibrated at C/2 only)",
           "Wang et al., J. Power Sources 196 (2011) 3942", "lfp_aging", "lfp_loss_ratio_25C_2C"),
    KeyRow("Optimal-control bound <= baseline at the same time and start (rows with a valid bound)", "NMC+LFP",
           "every baseline (design target)", "docs/evaluation.md", "bound", "bound_holds_fraction"),
    KeyRow("Optimal-control bound: solves with status optimal", "NMC+LFP", ">= 95 % (design target)",
           "docs/evaluation.md", "bound", "bound_optimal_fraction"),
    KeyRow("Optimal-control bound: median solve time, env steps, entropy objective", "NMC+LFP",
           "<= 60 s (design target)", "docs/evaluation.md", "bound", "bound_median_solve_s"),
    KeyRow("Fast lifetime: end-of-life cycle vs the cycle-by-cycle run", "NMC", "within 2 %",
           "design target (docs/lifetime.md)",
           "validation", "fast_eol_diff_pct"),
    KeyRow("Fast lifetime: cycling-time speed-up vs the cycle-by-cycle run", "NMC", ">= 10x",
           "design target (docs/lifetime.md)",
           "validation", "fast_speedup_x"),
    KeyRow("Cycling vs PyBaMM Experiment cycling: capacity difference", "NMC", "within 0.2 %",
           "design target (docs/validation.md)",
           "validation", "cycling_capacity_diff_pct"),
)  # fmt: skip


# The project's parts, in running order.
PARTS: tuple[Part, ...] = (
    Part(
        PERFORMANCE_PART,
        "Performance: eomctl against PyBaMM",
        performance_part,
        quick_budget="SPMe case only, 60 steps x 30 s, 2 repeats; env: 20 steps, 2 envs",
        full_budget="SPM, SPMe, SPMe+SEI+plating, 200 steps x 30 s, 3 repeats; env: 40 steps, 2/4/8 envs",
        exclusive=True,  # timings: never beside another part
    ),
    Part(
        "plating",
        "Lithium plating: the rate law, and what CC-CV charges plate and lose for good",
        plating_part,
        quick_budget="rate law; CC-CV at 1C and 2C, -10 / 0 / 10 / 25 C; guarded 0 C at 0.5 / 1 / 1.5C; both laws",
        full_budget="rate law; CC-CV at 0.5-3C, -10 / 0 / 10 / 25 C; guarded 0 C at 0.5 / 1 / 1.5C; both laws",
        inputs=("eomctl/data/cells/lgm50.yaml",),
    ),
    Part(
        "protocols",
        "Standard charging protocols against CC-CV",
        protocols_part,
        quick_budget="1 episode per protocol; matched-time CC-CV for NMC only",
        full_budget="1 episode per protocol (the scenarios are deterministic); matched-time CC-CV for NMC and LFP",
        inputs=("envs/FastCharge.yaml", "envs/LFPFastCharge.yaml"),
    ),
    Part(
        "pareto",
        "Pareto manifold and Entropy Efficiency Zone (FastCharge at 25 C, and at 0 C under a charger's limits; NMC)",
        pareto_part,
        quick_budget="coarse grid (12 protocols), 1 episode each, no optimal-control bound; 25 C and 0 C",
        full_budget="full grid (22 protocols), 1 episode each, optimal-control bound at 5 budgets; 25 C and 0 C",
        inputs=("envs/FastCharge.yaml",),
        exclusive=True,  # runs its own parallel sweep
        checkpoints=("sweep_checkpoint.json", "sweep_cold_checkpoint.json"),
    ),
    Part(
        "bound",
        "The optimal-control bound beside every baseline at the same charge time and start",
        bound_part,
        quick_budget="FastCharge, CC-CV 2C only",
        full_budget="FastCharge, ColdCharge at 0 C, AgedCell, LFPFastCharge; 6 baselines each, one episode (seed 0)",
        inputs=("envs/FastCharge.yaml", "envs/ColdCharge.yaml", "envs/AgedCell.yaml", "envs/LFPFastCharge.yaml"),
        exclusive=True,  # runs its own pool of two solves
        checkpoints=("bound.ckpt.json",),
    ),
    Part(
        "policy",
        "Every shipped policy against the chargers tuned to its charge time",
        policy_part,
        quick_budget=(
            "2 training + 2 held-out draws per scenario, CC-CV matched on each of the 2 on ColdFastCharge; no bound, "
            "no MPC; 1 episode per chemistry vs matched CC-CV"
        ),
        full_budget=(
            "30 training + 30 held-out draws per scenario; oracles: on Deadline CC-CV meeting each draw's deadline, "
            "on ColdFastCharge CC-CV matched on each held-out draw, the bound on 6 held-out draws per objective and "
            "the MPC (oracle, EKF) on the first 3; 3 episodes per chemistry vs matched CC-CV"
        ),
        inputs=(*SHIPPED_POLICIES.values(), *POLICY_FILES.values()),
        version="10",  # Deadline: the late draws of each side counted beside the mean-time comparison
        exclusive=True,  # runs its own pool of two scenario tasks
        checkpoints=("scorecard.ckpt.json", "room.ckpt.json", "per_draw.ckpt.json", "mpc.ckpt.json"),
    ),
    Part(
        "policy_life",
        "Cycle life under the cold policy, CC-CV and the JEITA charger at the same repeated charge time, 0 C and 10 C",
        policy_life_part,
        quick_budget="ColdFastCharge policy, matched CC-CV and JEITA at 0 C and 10 C with 10 min and 4 h rests and at "
        "-10 C with 4 h rests, the plating-free CC-CV at 0 C and -10 C, 30 cycles (no end of life)",
        full_budget="the policy, matched CC-CV and JEITA at 0 C and 10 C with 10 min and 4 h rests and at -10 C with "
        "4 h rests, the plating-free CC-CV at 0 C and -10 C, to 80 % SOH (cap 12000), unaccelerated, fast",
        inputs=(COLD_POLICY, "envs/ColdFastCharge.yaml"),
        version="4",  # cold-soaked at -10 C too
        exclusive=True,  # runs its own pool of two lifetimes
        checkpoints=("policy_life.ckpt.json", *policy_life_checkpoints()),
    ),
    Part(
        "lifetime",
        "Cycle life and lifetime extension against CC-CV at the same charge time",
        lifetime_part,
        quick_budget="PPO and matched CC-CV, all aging rates x1000, fast mode, RPT every 50 cycles, cap 200 (no EOL)",
        full_budget="PPO, matched CC-CV and CC-CV 1C, all aging rates x300, fast mode, RPT every 50 cycles, cap 2000",
        inputs=(LIFE_POLICY,),
        version="4",  # the LFP row says why it is not run (an LFP policy ships since 2026-12-04)
        checkpoints=("ppo.ckpt.json", "cccv.ckpt.json", "cccv_1C.ckpt.json"),
    ),
    Part(
        "analytics",
        "EOM trajectory analytics and the energy-entropy balance",
        analytics_part,
        quick_budget="one 1C CC-CV charge + 1 h rest per chemistry (same in both modes)",
        full_budget="one 1C CC-CV charge + 1 h rest per chemistry",
        inputs=("eomctl/data/cells/a123_lfp.yaml",),
    ),
    Part(
        "prognostics",
        "SOH and RUL prognostics: entropy features against the Severson baseline",
        prognostics_part,
        quick_budget="6 simulated cells (fleet scores meaningless) + the real 44-cell set",
        full_budget="24 simulated cells (NMC + LFP, 10/25/40 C, 1C/2C, spread) to 80 % SOH + the real 44-cell set",
        checkpoints=("fleet_checkpoint.json",),
    ),
    Part(
        "bridge",
        "Entropy-impedance bridge",
        bridge_part,
        quick_budget=f"{BRIDGE_STATES} fleet states (same in both modes: ~80 s)",
        full_budget=f"{BRIDGE_STATES} fleet states, NMC + LFP, 10-40 C",
        inputs=("eomctl/data/cells/a123_lfp.yaml", "envs/AgedCell.yaml"),
    ),
    Part(
        "training",
        "Training time of the default run",
        training_part,
        quick_budget="PPO learning only, 1024 steps, 2 envs",
        full_budget="the default command end to end (python scripts/train_agent.py --algo ppo)",
        exclusive=True,  # a timing: never beside another part
    ),
    Part(
        "validation",
        "Validation: simulator and cycling against PyBaMM, fast lifetime against cycle by cycle",
        validation_part,
        quick_budget="simulator check; 20 cycles against PyBaMM; no fast-vs-slow run",
        full_budget="simulator check; 100 cycles against PyBaMM; fast vs cycle by cycle to 80 % SOH at SEI x2000, x500",
    ),
    Part(
        "cold_life",
        "Cycle life at 25 C and 0 C under the same fast charge",
        cold_life_part,
        quick_budget="CC-CV 2C at 25 C, 0 C (cap 600, no end of life), 0 C cold-soaked (100); unaccelerated, fast mode",
        full_budget="CC-CV 2C at 25 C, 0 C (cap 12000), 0 C cold-soaked (4 h rests, 3000 cycles); unaccelerated, fast",
        exclusive=True,  # runs its own parallel lifetimes
        checkpoints=("sweep.ckpt.json",),
    ),
    Part(
        "lfp_aging",
        "A123 LFP cycle life beside the published model of the same cell",
        lfp_aging_part,
        quick_budget="25 C, C/2 only, unaccelerated, fast mode, cap 400 cycles (no end of life)",
        full_budget="25 C and 40 C at C/2 to 20 % loss, 25 C 2C to 3000 cycles; unaccelerated, fast mode",
        inputs=("eomctl/data/cells/a123_lfp.yaml",),
        exclusive=True,  # runs its own parallel lifetimes
        checkpoints=("lfp.ckpt.json",),
    ),
)


# ------------------------------------------------------------------------------------------------ tables
def _format_number(value: float, unit: str) -> str:
    text = f"{value:.3g}" if abs(value) < 1e4 else f"{value:.0f}"
    return f"{text} {unit}".strip()


def _read_numbers(out: Path, record: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return dict(json.loads((out / record.get("key_numbers", KEY_NUMBERS_FILE)).read_text()))
    except (OSError, json.JSONDecodeError):
        return {}


def _status_text(record: Mapping[str, Any] | None) -> str:
    if record is None:
        return "not run"
    if record["status"] == "skipped":
        return f"not run: {record.get('reason', '')}"
    return f"not run: the part failed ({record.get('error', '')})"


def key_results(out: Path, records: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    """The key-results rows, every measured value read from the ``key_numbers.json`` a part wrote.

    Parameters
    ----------
    out : Path
        The output folder.
    records : mapping
        Part name -> its record (see :func:`eomctl.reproduce.runner.run_part`); parts absent here count as not run.

    Returns
    -------
    list of dict
        Columns result, chemistry, research_claim, claim_source, measured, how_measured, part, source_file.
    """
    rows = []
    for row in KEY_ROWS:
        record = records.get(row.part)
        ran = record is not None and record["status"] == "ok"
        number = _read_numbers(out, record).get(row.key) if record is not None and ran else None
        source = str(record.get("key_numbers", "")) if record is not None and number else ""
        if not ran:
            measured, how = _status_text(record), ""
        elif number is None or number.get("value") is None:
            measured = "not measured" + (f": {number['description']}" if number else f" (no key '{row.key}')")
            how = ""
        else:
            measured, how = _format_number(float(number["value"]), number["unit"]), number["description"]
            if number.get("caveat"):  # the short table (README) drops the how column; the caveat stays
                measured += f" ({number['caveat']})"
        rows.append({"result": row.result, "chemistry": row.chemistry, "research_claim": row.claim,
                     "claim_source": row.claim_source, "measured": measured, "how_measured": how, "part": row.part,
                     "source_file": source})  # fmt: skip
    return rows


def performance_rows(out: Path, records: Mapping[str, Mapping[str, Any]]) -> tuple[list[dict[str, str]], str]:
    """The performance table as the ``performance`` part wrote it, or no rows and why."""
    record = records.get(PERFORMANCE_PART)
    if record is None or record["status"] != "ok":
        return [], f"performance: {_status_text(record)}"
    if PERFORMANCE_TABLE not in record.get("tables", {}):
        return [], f"performance: the part wrote no '{PERFORMANCE_TABLE}' table"
    with open(out / record["tables"][PERFORMANCE_TABLE], newline="") as handle:
        return list(csv.DictReader(handle)), ""
