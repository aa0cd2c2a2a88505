"""A simulated fleet run to end of life through the lifetime engine, with early-cycle diagnostics for prognostics.

Every cell of a :class:`FleetPlan` is one :func:`eomctl.lifetime.engine.run_lifetime` run (SPM, fast inter-cycle
extrapolation, accelerated SEI growth) of the LG M50 (NMC) or A123 (LFP) cell, charged by CC-CV at one C-rate and
ambient temperature, with cell-to-cell spread drawn from a seeded generator: SEI solvent diffusivity x
lognormal(0, ``spread``) and negative-electrode active-material fraction x N(1, 2 %).

At cycle 0, at the two early cycles ``plan.early = (a, b)`` and every ``rpt_every`` cycles a diagnostic is run from
the cycle's end state and the state is then restored exactly (it does not age the cell): a C/3 constant-current charge
to the upper cut-off (its exact dissipative resistance ``R_S = Q_irr / (I^2 t)`` and entropy per ampere-hour from the
step integrals), a 5 min rest, and a 1C discharge to the lower cut-off whose first 10 s give the pulse resistance and
whose record every 30 s gives the ``Q(V)`` curve of Severson et al.; SOH is its capacity relative to cycle 0's.
(The engine's own reference tests are off: their schedule under fast mode was being reworked when this was written.)
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from eomctl.cell.catalogue import load_cell
from eomctl.core.executor import run_tasks
from eomctl.lifetime.cycling import CyclingError, rest, until_cutoff
from eomctl.lifetime.engine import LifetimeConfig, build_simulator, run_lifetime
from eomctl.policies.baselines import CCCV
from eomctl.policies.specs import parse_policy

SPREAD_SEI = "SEI solvent diffusivity [m2.s-1]"
SPREAD_AM = "Negative electrode active material volume fraction"
CHEMISTRY = {"LGM50": ("NMC", "FastCharge", 4.2), "A123-LFP": ("LFP", "LFPFastCharge", 3.6)}
DIAG_DT_S = 30.0


@dataclass(frozen=True)
class FleetPlan:
    """A fleet design: every cell x ambient x rate x replicate is one lifetime run.

    Parameters
    ----------
    name : str
        "quick" or "full" (or any label).
    cells : tuple of str
        Catalogue cells (keys of :data:`CHEMISTRY`).
    ambients_c : tuple of float
        Ambient temperatures [C].
    rates : tuple of str
        CC-CV charge rates, e.g. "1C".
    replicates : int
        Cells per combination (independent spread draws).
    sei_diffusivity : float
        Median SEI solvent diffusivity [m2.s-1] (O'Kane 2022: 2.5e-22; larger = accelerated aging).
    spread : float
        Lognormal sigma of the SEI diffusivity factor.
    max_cycles, rpt_every : int
        Cycle cap and cycles between reference tests.
    early : tuple of int
        The two diagnostic cycles (a, b); features use data up to cycle b only.
    horizon : int
        Cycle at which SOH is predicted.
    eol_soh, stop_soh : float
        End of life for the cycle-life target; runs continue to ``stop_soh`` (< eol) so SOH at the horizon is known.
    seed : int
        Seed of the spread draws.
    """

    name: str
    cells: tuple[str, ...] = ("LGM50", "A123-LFP")
    ambients_c: tuple[float, ...] = (10.0, 25.0, 40.0)
    rates: tuple[str, ...] = ("1C", "2C")
    replicates: int = 2
    sei_diffusivity: float = 5e-19
    spread: float = 0.3
    max_cycles: int = 500
    rpt_every: int = 25
    early: tuple[int, int] = (5, 25)
    horizon: int = 150
    eol_soh: float = 0.8
    stop_soh: float = 0.75
    seed: int = 0


PLANS = {
    "quick": FleetPlan(
        "quick", ambients_c=(15.0, 25.0, 40.0), rates=("1C",), replicates=1, sei_diffusivity=2e-18,
        max_cycles=150, rpt_every=10, early=(2, 10), horizon=50,
    ),
    "full": FleetPlan("full"),  # 2 cells x 3 ambients x 2 rates x 2 replicates = 24 runs
}  # fmt: skip


def fleet_tasks(plan: FleetPlan) -> list[dict[str, Any]]:
    """One JSON-able keyword mapping of :func:`fleet_task` per cell of the plan (spread drawn here, seeded)."""
    rng = np.random.default_rng(plan.seed)
    tasks = []
    for cell in plan.cells:
        chem, scenario, vmax = CHEMISTRY[cell]
        for ambient in plan.ambients_c:
            for rate in plan.rates:
                for rep in range(plan.replicates):
                    sei = plan.sei_diffusivity * float(np.exp(rng.normal(0.0, plan.spread)))
                    am = float(rng.normal(1.0, 0.02))
                    tasks.append(
                        {
                            "cell_id": f"{chem}-{ambient:g}C-{rate}-{rep}",
                            "cell": cell,
                            "chemistry": chem,
                            "scenario": scenario,
                            "policy": f"cccv:rate={rate},vmax={vmax},cutoff=C/20",
                            "ambient_c": float(ambient),
                            "sei_diffusivity": sei,
                            "am_factor": am,
                            "plan": dataclasses.asdict(plan),
                        }
                    )
    return tasks


def _diagnostic(sim: Any) -> dict[str, Any]:
    """C/3 CC charge (R_S, entropy per A.h), rest, 10 s pulse + 1C discharge; the simulator state is restored after.

    Returns ``rs_ohm`` (``Q_irr / (I^2 t)`` of the charge, exact from the step integrals), ``entropy_per_ah``,
    ``pulse_ohm`` (``(V_rest - V_10s) / I`` of the discharge's first 10 s, at the top of charge), ``capacity_ah`` (the
    1C discharge to the lower cut-off) and the discharge curve ``q_ah``, ``v_v``.
    """
    saved = sim.state
    cell = sim.cell
    try:
        i_a = cell.capacity_ah / 3.0
        start = sim.last
        until_cutoff(sim, i_a, "diagnostic charge")  # shortens its step near an exhausted electrode
        end = sim.last
        t_s = end.time_s - start.time_s
        heat, ent, q_ah = (end.totals[k] - start.totals[k] for k in ("heat_irr_j", "entropy_j_per_k", "charge_in_ah"))
        rest(sim, 300.0)
        q, v = [0.0], [sim.last.voltage_v]
        for k in range(2000):
            r = sim.step(-cell.capacity_ah, 10.0 if k == 0 else DIAG_DT_S, v_min_v=cell.v_min_v)
            if r.solver_failed:
                break
            q.append(q[-1] - r.charge_in_ah)
            v.append(r.voltage_v)
            if r.stop_reason != "time":
                break
        return {"rs_ohm": heat / (i_a**2 * t_s), "entropy_per_ah": ent / q_ah, "capacity_ah": q[-1],
                "pulse_ohm": (v[0] - v[1]) / cell.capacity_ah, "q_ah": q, "v_v": v}  # fmt: skip
    finally:
        sim.restore(saved)


class _EndOfLife(Exception):
    """Raised from the row callback to stop a run at ``plan.stop_soh``."""


def fleet_task(
    cell_id: str,
    cell: str,
    chemistry: str,
    scenario: str,
    policy: str,
    ambient_c: float,
    sei_diffusivity: float,
    am_factor: float,
    plan: dict[str, Any],
) -> dict[str, Any]:
    """Run one fleet cell (top level, JSON in and out, for :func:`eomctl.core.executor.run_tasks`).

    The lifetime engine cycles the cell (no reference tests of its own); this function runs :func:`_diagnostic` at
    cycle 0, at the early cycles ``a`` and ``b`` and every ``rpt_every`` cycles (at the first simulated cycle at or
    past each mark), defines ``SOH = capacity / capacity at cycle 0`` from them and stops the run at ``stop_soh``.

    Returns the spec plus ``rows`` (cycle, entropy_charge_j_per_k of every simulated cycle), ``checks`` (cycle, soh,
    pulse_ohm, rs_ohm of every diagnostic), ``diag`` (the full diagnostics at "a" and "b"), ``error`` (None, or why the
    run stopped early: what was measured so far is kept) and ``wall_s``.
    """
    started = time.perf_counter()
    base = load_cell(cell).parameter_values[SPREAD_AM]
    every = int(plan["rpt_every"])
    config = LifetimeConfig(
        policy=policy, cell=cell, scenario=scenario, model="SPM", ambient_c=ambient_c, rpt=False,
        max_cycles=plan["max_cycles"], fast=True, fast_max_jump=max(4, every), rest_s=300.0,
        cell_overrides=((SPREAD_SEI, sei_diffusivity), (SPREAD_AM, float(base) * am_factor)),
    )  # fmt: skip
    sim = build_simulator(config)
    checkups = _Checkups(sim, plan)
    rows: list[dict[str, float]] = []

    def on_row(row: dict[str, float]) -> None:
        if not row["rpt"]:
            rows.append({"cycle": float(row["cycle"]), "entropy_charge_j_per_k": float(row["entropy_charge_j_per_k"])})
        checkups.check(float(row["cycle"]))

    error = None
    try:
        checkups.check(0.0)
        run_lifetime(config, policy=_stepped(config.policy), simulator=sim, on_row=on_row)
    except _EndOfLife:
        pass
    except (CyclingError, ArithmeticError, RuntimeError) as exc:  # a late solver failure: keep what was measured
        error = f"{type(exc).__name__}: {exc}"
    return {
        "cell_id": cell_id, "cell": cell, "chemistry": chemistry, "policy": policy, "ambient_c": ambient_c,
        "sei_diffusivity": sei_diffusivity, "am_factor": am_factor, "rows": rows, "checks": checkups.checks,
        "diag": checkups.diag, "error": error, "wall_s": time.perf_counter() - started,
    }  # fmt: skip


class _Checkups:
    """The diagnostics of one fleet cell: at cycle 0, the early cycles ``a`` and ``b`` and every ``rpt_every``."""

    def __init__(self, sim: Any, plan: dict[str, Any]) -> None:
        self.sim, self.stop_soh = sim, plan["stop_soh"]
        self.a, self.b = plan["early"]
        every = int(plan["rpt_every"])
        self.marks = sorted({0, self.a, self.b, *range(every, plan["max_cycles"] + 1, every)})
        self.checks: list[dict[str, float]] = []
        self.diag: dict[str, Any] = {}

    def check(self, cycle: float) -> None:
        """Run the diagnostics due by ``cycle`` (one for several marks passed in one jump); raise at end of life."""
        while self.marks and self.marks[0] <= cycle:
            mark = self.marks.pop(0)
            if mark > 0 and any(c["cycle"] == cycle for c in self.checks):
                continue  # several marks passed in one jump: one check
            d = {"cycle": cycle, **_diagnostic(self.sim)}
            ref = self.checks[0]["capacity_ah"] if self.checks else d["capacity_ah"]
            keys = ("cycle", "capacity_ah", "pulse_ohm", "rs_ohm")
            self.checks.append({k: d[k] for k in keys} | {"soh": d["capacity_ah"] / ref})
            for key, n in (("a", self.a), ("b", self.b)):
                if key not in self.diag and mark == n:
                    self.diag[key] = d
            if self.checks[-1]["soh"] <= self.stop_soh:
                raise _EndOfLife


def _stepped(spec: str) -> Any:
    """The CC-CV policy as a subclass, so that :func:`eomctl.lifetime.cycling.charge_with_policy` runs it through its
    control-step path (the env's enforced-limit charge) rather than its CC-CV shortcut, whose CV hold failed on the
    LFP cell when this fleet was designed."""

    @dataclasses.dataclass(frozen=True)
    class SteppedCCCV(CCCV):
        """CC-CV through the control-step path."""

    policy = parse_policy(spec)
    if not isinstance(policy, CCCV):
        raise TypeError(f"the fleet charges by CC-CV; got {spec}")
    return SteppedCCCV(rate=policy.rate, vmax=policy.vmax, cutoff=policy.cutoff)


def run_fleet(
    plan: FleetPlan, checkpoint: str | None = None, executor: str = "local", max_workers: int | None = None
) -> list[dict[str, Any]]:
    """Every cell of ``plan`` through :func:`eomctl.core.executor.run_tasks` (resumable with ``checkpoint``)."""
    return run_tasks(fleet_task, fleet_tasks(plan), executor=executor, max_workers=max_workers, checkpoint=checkpoint)
