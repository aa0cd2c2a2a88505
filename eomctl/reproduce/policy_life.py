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
    EOL_baseline - 1) against the longer-lived of the two chargers.
"""


def _config(ambient_c: float, quick: bool) -> LifetimeConfig:
    max_cycles, rpt_every = BUDGET[quick]
    return LifetimeConfig(cell="LGM50", scenario="ColdFastCharge", model="SPMe", ambient_c=ambient_c, fast=True,
                          max_cycles=max_cycles, rpt_every=rpt_every)  # fmt: skip


def policy_life_task(ambient_c: float, role: str, quick: bool, out_dir: str) -> dict[str, Any]:
    """One lifetime (``role`` "policy" or a key of :data:`COLD_BASELINES`) at ``ambient_c``, a baseline's rate matched
    first (JSON out)."""
    base = _config(ambient_c, quick)
    sim = build_simulator(base)
    policy = str(REPO_ROOT / COLD_POLICY)
    target_s = steady_charge_time(base, policy, sim)
    if role == "policy":
        spec, steady_s = policy, target_s
    else:
        template = parse_policy(COLD_BASELINES[role])
        rate_c, _ = matched_rate(base, target_s, simulator=sim, template=template, steady_cycles=STEADY_CYCLES)
        spec = policy_spec(with_rate(template, round(rate_c, 4)))
        steady_s = steady_charge_time(base, spec, sim)
    stem = f"life_{role}_{ambient_c:g}C"
    result = run_lifetime_resumable(dataclasses.replace(base, policy=spec), Path(out_dir) / f"{stem}.ckpt.json", sim)
    path = result.write_csv(Path(out_dir) / f"{stem}.csv")
    row = dataclasses.asdict(summary(result))
    return {"ambient_c": ambient_c, "role": role, **row, "spec": COLD_POLICY if role == "policy" else spec,
            "steady_charge_time_s": steady_s, "policy_steady_charge_time_s": target_s, "csv": path.name}  # fmt: skip


def policy_life_part(out_dir: Path, quick: bool, executor: str) -> PartResult:
    """Cycle life of the cold policy against matched CC-CV at each ambient (:data:`AMBIENTS_C`)."""
    kwargs_list = [{"ambient_c": a, "role": role, "quick": quick, "out_dir": str(out_dir)}
                   for a in AMBIENTS_C for role in ("policy", *COLD_BASELINES)]  # fmt: skip
    rows = run_tasks(policy_life_task, kwargs_list, executor=executor, max_workers=2,
                     checkpoint=out_dir / "policy_life.ckpt.json")  # fmt: skip
    numbers: dict[str, KeyNumber] = {}
    for ambient_c in AMBIENTS_C:
        here = {r["role"]: r for r in rows if r["ambient_c"] == ambient_c}
        mine = here["policy"]
        # the longer-lived baseline: the later end of life, or the higher final SOH when neither reached it
        theirs = max((here[role] for role in COLD_BASELINES),
                     key=lambda r: (r["eol_cycle"] or float("inf"), r["final_soh"] or 0.0))  # fmt: skip
        gap_pct = 100.0 * (theirs["steady_charge_time_s"] / mine["steady_charge_time_s"] - 1.0)
        both = mine["eol_cycle"] and theirs["eol_cycle"]
        extension = 100.0 * (mine["eol_cycle"] / theirs["eol_cycle"] - 1.0) if both else None
        how = (f"{ambient_c:g} C: policy charge (cycle {STEADY_CYCLES}) {mine['steady_charge_time_s']:.0f} s, "
               f"{theirs['spec']} (the longer-lived of {len(COLD_BASELINES)} BMS chargers) "
               f"{theirs['steady_charge_time_s']:.0f} s ({gap_pct:+.1f} %); ")  # fmt: skip
        how += (f"EOL cycle {mine['eol_cycle']:.0f} vs {theirs['eol_cycle']:.0f} (unaccelerated, fast mode)" if both
                else f"end of life not reached by both within {mine['cycles']} cycles: final SOH "
                     f"{mine['final_soh']:.4f} vs {theirs['final_soh']:.4f}")  # fmt: skip
        caveat = "NOT at matched charge time" if abs(gap_pct) > 2.0 else ""
        numbers[f"cold_policy_lifetime_extension_pct_{ambient_c:g}C"] = KeyNumber(extension, "%", how, caveat)
    files = [out_dir / r["csv"] for r in rows]
    figure = plot_lifetime(files, out_dir / "policy_life.png", eol_soh=_config(0.0, quick).eol_soh)
    return PartResult(flat_text(POLICY_LIFE_TEXT), [*files, figure], {"policy_life": rows}, numbers)
