"""The ``policy_life`` part: cycle life under the shipped ColdFastCharge policy against the best BMS charger, matched on
the charge time the lifetime repeats, at 0 C and 10 C ambient, unaccelerated.

Registered by :mod:`eomctl.reproduce.parts`. Each of the four lifetimes (policy and baseline at each ambient) is a task
of :func:`eomctl.core.executor.run_tasks` with its own simulator and its own lifetime checkpoint, so an interrupted run
resumes cycle by cycle.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from eomctl.core.executor import run_tasks
from eomctl.core.resources import REPO_ROOT
from eomctl.lifetime.compare import STEADY_CYCLES, matched_rate, steady_charge_time, summary, with_rate
from eomctl.lifetime.engine import LifetimeConfig, build_simulator, run_lifetime_resumable
from eomctl.plotting.lifetime import plot_lifetime
from eomctl.policies.specs import parse_policy, policy_spec
from eomctl.reproduce.part import KeyNumber, PartResult, flat_text

COLD_POLICY = "agents/ppo_ColdFastCharge-v0.zip"
# The chargers a BMS can run that the policy part found best at the policy's mean charge time on the held-out draws:
# plain CC-CV (at 2480 s, 10 training draws) and the JEITA table (at 2504 s, 30 training draws), so both run; each
# one's rate is matched per ambient. The longer-lived of the two is the baseline of the key number.
COLD_BASELINES = {"baseline": "cccv:vmax=4.2,cutoff=C/20", "jeita": "derated:rates=1C,table=jeita"}
AMBIENTS_C = (0.0, 10.0)
# With 4 h rests the charge also starts at -10 C, the coldest start the scenario draws and where it plates most.
COLDEST_C = -10.0
# Rest after each charge and after each discharge [s]. "warm": 10 min, the lifetime command's default, so each charge
# starts from a cell the 1C discharge warmed (about 13 C at 0 C ambient). "soaked": 4 h, so each charge starts from a
# cell relaxed to ambient, as the scenario's episodes do and as a car charged after a night outside (the cold_life part
# uses the same rest).
PROTOCOLS = {"warm": 600.0, "soaked": 14400.0}
# A counterfactual, not a charger: the CC-CV matched to the policy's time on a cell that cannot plate (both plating
# exchange currents zero). Its life over the CC-CV's is what any charger at that time could gain by plating no lithium
# at all, everything else aging as under the CC-CV: the ceiling of a plating-avoiding policy's extension.
PLATING_FREE = "plating_free"
NO_PLATING = (("Lithium plating kinetic rate constant [m.s-1]", 0.0),)
BUDGET = {True: (30, 10), False: (12000, 100)}  # quick, full: (max_cycles, rpt_every)
POLICY_LIFE_TEXT = """
    Cycle life of the LG M50 (SPMe, lumped thermal, SEI growth, the consistent Arrhenius lithium-plating law and
    PyBaMM's stress-driven loss of active material, as the lifetime command runs this cell) under the shipped
    ColdFastCharge policy (BMS observation: voltage, current, temperature, coulomb-counted SOC), under CC-CV and under
    the JEITA-derated charger, at 0 C and 10 C ambient: each cycle a charge from empty to 80 % SOC under the
    scenario's limits (4.2 V, 45 C, the anode potential not guarded), a 10 min rest, a 1C discharge and a 10 min rest;
    a C/3 capacity check every K cycles; end of life at 80 % of the first capacity; no aging acceleration, fast mode
    (adaptive inter-cycle extrapolation). Each charger's nominal rate is matched (Brent's method, 1 %) to the policy's
    charge time on cycle 3 from a fresh cell, the charge the lifetime repeats (each charge starts after a discharge
    that warmed the cell), not on the first charge from a cell at ambient. Extension = 100 (EOL_policy /
    EOL_baseline - 1) against the longer-lived of the two chargers. The same again with 4 h rests ("soaked"), so that
    every charge starts from a cell at ambient, as the scenario's episodes do; and at 0 C, under both rests, the matched
    CC-CV on a cell that cannot plate (a counterfactual, not a charger): its extension over the CC-CV is the most that
    plating no lithium at all could add at that charge time. With 4 h rests all of them also at -10 C ambient.
"""


def _config(ambient_c: float, quick: bool, protocol: str = "warm") -> LifetimeConfig:
    max_cycles, rpt_every = BUDGET[quick]
    return LifetimeConfig(cell="LGM50", scenario="ColdFastCharge", model="SPMe", ambient_c=ambient_c, fast=True,
                          max_cycles=max_cycles, rpt_every=rpt_every, rest_s=PROTOCOLS[protocol])  # fmt: skip


def _stem(role: str, ambient_c: float, protocol: str) -> str:
    """File stem of one lifetime; the warm protocol keeps the names it had before the soaked one was added."""
    return f"life_{role}_{ambient_c:g}C" + ("" if protocol == "warm" else f"_{protocol}")


def _tasks(quick: bool, out_dir: Path) -> list[dict[str, Any]]:
    """Every lifetime the part runs: policy and BMS chargers per protocol and ambient, the plating-free CC-CV at 0 C
    under both protocols, and all four cold-soaked at :data:`COLDEST_C`."""
    tasks = [{"ambient_c": a, "role": role, "protocol": protocol, "quick": quick, "out_dir": str(out_dir)}
             for protocol in PROTOCOLS for a in AMBIENTS_C for role in ("policy", *COLD_BASELINES)]  # fmt: skip
    tasks += [{"ambient_c": 0.0, "role": PLATING_FREE, "protocol": protocol, "quick": quick, "out_dir": str(out_dir)}
              for protocol in PROTOCOLS]  # fmt: skip
    tasks += [{"ambient_c": COLDEST_C, "role": role, "protocol": "soaked", "quick": quick, "out_dir": str(out_dir)}
              for role in ("policy", *COLD_BASELINES, PLATING_FREE)]  # fmt: skip
    return tasks


def checkpoint_names() -> tuple[str, ...]:
    """The lifetime checkpoints :func:`policy_life_part` leaves (``Part.checkpoints``)."""
    return tuple(f"{_stem(t['role'], t['ambient_c'], t['protocol'])}.ckpt.json" for t in _tasks(True, Path(".")))


def policy_life_task(ambient_c: float, role: str, protocol: str, quick: bool, out_dir: str) -> dict[str, Any]:
    """One lifetime (``role`` "policy", a key of :data:`COLD_BASELINES` or :data:`PLATING_FREE`) at ``ambient_c``
    under ``protocol`` (a key of :data:`PROTOCOLS`), a charger's rate matched first (JSON out)."""
    base = _config(ambient_c, quick, protocol)
    sim = build_simulator(base)
    policy = str(REPO_ROOT / COLD_POLICY)
    target_s = steady_charge_time(base, policy, sim)
    run_config, run_sim = base, sim
    if role == "policy":
        spec, steady_s = policy, target_s
    else:
        template = parse_policy(COLD_BASELINES["baseline" if role == PLATING_FREE else role])
        rate_c, _ = matched_rate(base, target_s, simulator=sim, template=template, steady_cycles=STEADY_CYCLES)
        spec = policy_spec(with_rate(template, round(rate_c, 4)))
        if role == PLATING_FREE:  # the CC-CV's rate, matched on the cell that plates; then the cell that cannot
            run_config = dataclasses.replace(base, cell_overrides=NO_PLATING)
            run_sim = build_simulator(run_config)
        steady_s = steady_charge_time(run_config, spec, run_sim)
    stem = _stem(role, ambient_c, protocol)
    result = run_lifetime_resumable(dataclasses.replace(run_config, policy=spec), Path(out_dir) / f"{stem}.ckpt.json",
                                    run_sim)  # fmt: skip
    path = result.write_csv(Path(out_dir) / f"{stem}.csv")
    row = dataclasses.asdict(summary(result))
    return {"protocol": protocol, "rest_s": PROTOCOLS[protocol], "ambient_c": ambient_c, "role": role, **row,
            "spec": COLD_POLICY if role == "policy" else spec, "steady_charge_time_s": steady_s,
            "policy_steady_charge_time_s": target_s, "csv": path.name}  # fmt: skip


def _extension_pct(mine: dict[str, Any], theirs: dict[str, Any]) -> float | None:
    """100 (EOL_mine / EOL_theirs - 1), None unless both reached end of life."""
    both = mine["eol_cycle"] and theirs["eol_cycle"]
    return 100.0 * (mine["eol_cycle"] / theirs["eol_cycle"] - 1.0) if both else None


def policy_life_part(out_dir: Path, quick: bool, executor: str) -> PartResult:
    """Cycle life of the cold policy against matched BMS chargers at each ambient (:data:`AMBIENTS_C`) and rest
    (:data:`PROTOCOLS`), and the plating-free ceiling at 0 C."""
    rows = run_tasks(policy_life_task, _tasks(quick, out_dir), executor=executor, max_workers=2,
                     checkpoint=out_dir / "policy_life.ckpt.json")  # fmt: skip
    numbers: dict[str, KeyNumber] = {}
    for protocol, rest_s in PROTOCOLS.items():
        suffix = "" if protocol == "warm" else f"_{protocol}"
        for ambient_c in sorted({r["ambient_c"] for r in rows if r["protocol"] == protocol}):
            here = {r["role"]: r for r in rows if r["ambient_c"] == ambient_c and r["protocol"] == protocol}
            mine = here["policy"]
            chargers = [here[role] for role in COLD_BASELINES if role in here]
            # the longer-lived charger: the later end of life, or the higher final SOH when neither reached it
            theirs = max(chargers, key=lambda r: (r["eol_cycle"] or float("inf"), r["final_soh"] or 0.0))
            gap_pct = 100.0 * (theirs["steady_charge_time_s"] / mine["steady_charge_time_s"] - 1.0)
            extension = _extension_pct(mine, theirs)
            how = (
                f"{ambient_c:g} C, {rest_s / 60:g} min rests: policy charge (cycle {STEADY_CYCLES}) "
                f"{mine['steady_charge_time_s']:.0f} s, {theirs['spec']} (the longer-lived of "
                f"{len(chargers)} BMS chargers) {theirs['steady_charge_time_s']:.0f} s ({gap_pct:+.1f} %); "
            )
            how += (f"EOL cycle {mine['eol_cycle']:.0f} vs {theirs['eol_cycle']:.0f} (unaccelerated, fast mode)"
                    if extension is not None
                    else f"end of life not reached by both within {mine['cycles']} cycles: final SOH "
                         f"{mine['final_soh']:.4f} vs {theirs['final_soh']:.4f}")  # fmt: skip
            caveat = "NOT at matched charge time" if abs(gap_pct) > 2.0 else ""
            numbers[f"cold_policy_lifetime_extension_pct_{ambient_c:g}C{suffix}"] = KeyNumber(extension, "%", how,
                                                                                             caveat)  # fmt: skip
            if PLATING_FREE in here:
                free, cccv = here[PLATING_FREE], here["baseline"]
                ceiling = _extension_pct(free, cccv)
                how = (f"{ambient_c:g} C, {rest_s / 60:g} min rests: {cccv['spec']} on a cell that cannot plate vs "
                       f"the same charger on the cell that does (counterfactual); "
                       + (f"EOL cycle {free['eol_cycle']:.0f} vs {cccv['eol_cycle']:.0f}" if ceiling is not None
                          else f"final SOH {free['final_soh']:.4f} vs {cccv['final_soh']:.4f} after "
                               f"{free['cycles']} cycles"))  # fmt: skip
                numbers[f"plating_free_lifetime_ceiling_pct_{ambient_c:g}C{suffix}"] = KeyNumber(ceiling, "%", how)
    files = {protocol: [out_dir / r["csv"] for r in rows if r["protocol"] == protocol] for protocol in PROTOCOLS}
    eol_soh = _config(0.0, quick).eol_soh
    figures = [plot_lifetime(paths, out_dir / f"policy_life{'' if p == 'warm' else '_' + p}.png", eol_soh=eol_soh)
               for p, paths in files.items()]  # fmt: skip
    return PartResult(flat_text(POLICY_LIFE_TEXT), [*files["warm"], *files["soaked"], *figures], {"policy_life": rows},
                      numbers)  # fmt: skip
