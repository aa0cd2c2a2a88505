"""Lifetime comparisons: extension over CC-CV at matched charge time, and sweeps over policies x cells x temperatures.

A lifetime gain only means something at equal charge time (docs/physics.md §5: charge time is the dominant lever),
so :func:`compare_life` runs a baseline (CC-CV, or a one-rate derated charger) whose rate is matched to the policy's
charge time (:func:`matched_rate`): by default the charge the lifetime repeats, from a cell warmed by the discharge
before it (:func:`steady_charge_time`), not the first charge from a cell at ambient; it states both charge times next
to the cycles to end of life. :func:`sweep_lifetime`
runs many lifetimes through :func:`eomctl.core.executor.run_tasks`, the executor of the Pareto sweeps (local processes
by default, a Ray cluster when given).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eomctl.cell.simulator import CellSimulator
from eomctl.core.errors import ConfigError
from eomctl.core.executor import run_tasks
from eomctl.lifetime.cycling import charge_with_policy
from eomctl.lifetime.engine import (
    LifetimeConfig,
    LifetimeResult,
    LifetimeRun,
    build_simulator,
    config_as_json,
    run_lifetime,
)
from eomctl.policies.baselines import CCCV, Derated, Rate
from eomctl.policies.protocol import Policy
from eomctl.policies.specs import parse_policy, policy_spec

DEFAULT_BASELINE = "cccv:vmax=4.2,cutoff=C/20"  # its rate is matched to the policy's charge time


STEADY_CYCLES = 3  # cycles from a fresh cell after which the charge starts from a repeatable state (see below)


def steady_charge_time(config: LifetimeConfig, policy: str, simulator: CellSimulator | None = None,
                       cycles: int = STEADY_CYCLES) -> float:  # fmt: skip
    """The charge time [s] of a fresh cell's ``cycles``-th cycle under ``policy`` (charge, rest, discharge, rest).

    The first charge of a lifetime starts from a cell relaxed at ambient; every later one starts ``rest_s`` after a
    discharge that warmed it (at 0 C ambient a 1C discharge and 10 min rest leave the LG M50 near 13 C), and a cold
    cell charges faster warm. Cycle 2 on repeats the same start, so the third cycle's charge time is the one the
    lifetime runs at (aging over three cycles moves it by far less than the 1 % matching tolerance).
    """
    if cycles < 1:
        raise ConfigError(f"cycles must be >= 1; got {cycles}")
    run = LifetimeRun(dataclasses.replace(config, policy=policy), simulator=simulator)
    row: dict[str, float] = {}
    for _ in range(cycles):
        row = run.run_cycle()
    return float(row["charge_time_s"])


def with_rate(template: Policy, rate_c: float) -> Policy:
    """``template`` at nominal rate ``rate_c``: a CC-CV's rate, or a one-stage derated charger's."""
    if isinstance(template, Derated) and len(template.rates) == 1:
        return dataclasses.replace(template, rates=(Rate(rate_c),))
    if type(template) is CCCV:
        return dataclasses.replace(template, rate=Rate(rate_c))
    raise ConfigError(f"only a CC-CV or a one-rate derated charger can be matched in charge time; got "
                      f"'{policy_spec(template)}' (use --no-match to run it as given)")  # fmt: skip


def matchable(template: Policy) -> bool:
    """Whether :func:`matched_rate` can tune ``template``'s rate."""
    try:
        with_rate(template, 1.0)
    except ConfigError:
        return False
    return True


def matched_rate(
    config: LifetimeConfig,
    target_time_s: float,
    rtol: float = 0.01,
    simulator: CellSimulator | None = None,
    template: Policy | None = None,
    steady_cycles: int = 0,
) -> tuple[float, float]:
    """The nominal C-rate of ``template`` (a CC-CV or a one-rate derated charger) whose charge takes
    ``target_time_s``: the first charge (fresh empty cell relaxed at ambient) when ``steady_cycles`` is 0, else the
    charge of cycle ``steady_cycles`` (:func:`steady_charge_time`).

    Matching is done on the lifetime's own charge (from empty to the target), not on the env's episodes
    (:func:`eomctl.evaluation.evaluate.matched_time_cccv` starts at the scenario's 10-20 % SOC). Charge time falls with
    the rate until the CV phase dominates, so Brent's method on log(rate) is used within [0.1C, c_rate_max]; a target
    out of reach returns the nearest end. ``template`` gives everything but the rate (default: ``cccv``'s defaults).
    Returns ``(rate_c, charge_time_s)``.
    """
    from scipy.optimize import brentq

    run = LifetimeRun(dataclasses.replace(config, policy="cccv:rate=1C"), simulator=simulator)
    fresh = run.sim.state
    template = template if template is not None else CCCV()
    times: dict[float, float] = {}

    def charge_time(rate_c: float) -> float:
        if rate_c not in times:
            policy = with_rate(template, rate_c)
            if steady_cycles:
                times[rate_c] = steady_charge_time(config, policy_spec(policy), run.sim, steady_cycles)
            else:
                run.sim.restore(fresh)
                bound = policy.bind(run.adapter)
                phase = charge_with_policy(run.sim, run.adapter, bound, run.target_soc, 1.0,
                                           config.charge_time_limit_s)  # fmt: skip
                times[rate_c] = phase.duration_s
        return times[rate_c]

    lo, hi = math.log(0.1), math.log(run.scenario.c_rate_max)

    def gap(log_rate: float) -> float:
        return charge_time(math.exp(log_rate)) / target_time_s - 1.0

    if gap(hi) > 0 or gap(lo) < 0:
        rate = math.exp(hi) if gap(hi) > 0 else math.exp(lo)
        return rate, times[rate]
    log_rate = brentq(gap, lo, hi, rtol=1e-3, xtol=rtol / 4)
    rate = math.exp(log_rate)
    return rate, charge_time(rate)


def compare_life(
    policy: str,
    baseline: str | None = DEFAULT_BASELINE,
    config: LifetimeConfig | None = None,
    match: bool = True,
    steady_cycles: int = STEADY_CYCLES,
) -> LifeComparison:
    """Run ``policy`` and a baseline to end of life and report cycles to EOL and the extension, with charge times.

    Parameters
    ----------
    policy : str
        Policy spec or model path.
    baseline : str, optional
        Baseline spec. A CC-CV (``cccv:...``) or a one-rate derated charger (``derated:rates=1C,table=jeita``) gets its
        rate replaced by the one whose charge takes as long as the policy's (unless ``match`` is False); any other
        baseline runs as given. None: :data:`DEFAULT_BASELINE`.
    config : LifetimeConfig, optional
        Everything else (cell, ambient, discharge, EOL, cycle cap, fast mode).
    match : bool
        Match the baseline's rate to the policy's charge time.
    steady_cycles : int
        Match on the charge of cycle ``steady_cycles`` from a fresh cell, the charge the lifetime repeats
        (:func:`steady_charge_time`); 0 matches on the first charge, from a cell relaxed at ambient.

    Returns
    -------
    LifeComparison
        Both runs' :class:`LifeSummary`, whether the baseline's rate was matched, the charge times matched on, and
        the extension.
    """
    config = config or LifetimeConfig()
    sim = build_simulator(config)  # one build for all runs: each run resets it to a fresh cell
    template = parse_policy(baseline or DEFAULT_BASELINE)
    matched = match and matchable(template)
    target_s = steady_charge_time(config, policy, sim, steady_cycles) if steady_cycles else None
    mine = run_lifetime(dataclasses.replace(config, policy=policy), simulator=sim)
    if matched:
        target_s = target_s if target_s is not None else first_charge_time(mine)
        rate_c, _ = matched_rate(config, target_s, simulator=sim, template=template, steady_cycles=steady_cycles)
        template = with_rate(template, round(rate_c, 4))
    spec = policy_spec(template)
    theirs = run_lifetime(dataclasses.replace(config, policy=spec), simulator=sim)
    theirs_s = steady_charge_time(config, spec, sim, steady_cycles) if steady_cycles else None
    eol_p, eol_b = mine.eol_cycle, theirs.eol_cycle
    extension_pct = 100.0 * (eol_p / eol_b - 1.0) if eol_p and eol_b else None
    return LifeComparison(summary(mine), summary(theirs), matched, extension_pct, steady_cycles, target_s, theirs_s)


def first_charge_time(result: LifetimeResult) -> float:
    """Charge time of the first cycle of a lifetime run [s]."""
    return next(r["charge_time_s"] for r in result.rows if not r["rpt"])


@dataclass(frozen=True)
class LifeSummary:
    """What a lifetime run came to (:func:`summary`)."""

    spec: str
    charge_time_s: float  # of the first charge
    last_charge_time_s: float | None
    eol_cycle: float | None  # None: end of life not reached
    final_soh: float | None  # None: no reference test ran
    plating_ah: float
    lli_pct: float
    cycles: int
    cycles_simulated: int
    wall_s: float


@dataclass(frozen=True)
class LifeComparison:
    """A policy's life against a baseline's (:func:`compare_life`); ``extension_pct = 100 (EOL_policy / EOL_baseline
    - 1)`` when both reached end of life, else None; ``matched``: the baseline's rate was matched in charge time, on
    the charge of cycle ``steady_cycles`` (0: the first charge), whose times are given."""

    policy: LifeSummary
    baseline: LifeSummary
    matched: bool
    extension_pct: float | None
    steady_cycles: int = 0
    policy_steady_charge_time_s: float | None = None
    baseline_steady_charge_time_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The comparison as JSON-ready data."""
        return dataclasses.asdict(self)


def summary(result: LifetimeResult) -> LifeSummary:
    """Spec, first and last charge time [s], EOL cycle, final SOH, final plating and LLI, cycles, cycles simulated
    and wall time [s] of a run."""
    rpts = [r for r in result.rows if r["rpt"]]
    charges = [r for r in result.rows if not r["rpt"] and math.isfinite(r["charge_time_s"])]
    return LifeSummary(
        spec=result.config.policy,
        charge_time_s=first_charge_time(result),
        last_charge_time_s=charges[-1]["charge_time_s"] if charges else None,
        eol_cycle=result.eol_cycle,
        final_soh=rpts[-1]["soh"] if rpts else None,
        plating_ah=result.rows[-1]["plating_ah"],
        lli_pct=result.rows[-1]["lli_pct"],
        cycles=int(result.rows[-1]["cycle"]),
        cycles_simulated=result.cycles_simulated,
        wall_s=result.wall_s,
    )


def lifetime_task(config: Mapping[str, Any], csv_path: str | None = None) -> dict[str, Any]:
    """One sweep task (top level, picklable, JSON in and out): run a lifetime, write its CSV, return a summary."""
    fields = dict(config)
    fields["cell_overrides"] = tuple(tuple(pair) for pair in fields.get("cell_overrides", ()))
    result = run_lifetime(LifetimeConfig(**fields))
    if csv_path is not None:
        result.write_csv(csv_path)
    return {**dataclasses.asdict(summary(result)), "cell": result.config.cell, "ambient_c": result.config.ambient_c,
            "csv": csv_path}  # fmt: skip


def lifetime_task_kwargs(config: LifetimeConfig, csv_path: str | Path | None = None) -> dict[str, Any]:
    """Keyword arguments of one :func:`lifetime_task` (JSON types, so a checkpoint can key and store it)."""
    return {"config": config_as_json(config), "csv_path": None if csv_path is None else str(csv_path)}


def sweep_lifetime(
    policies: Sequence[str],
    cells: Sequence[str],
    ambients_c: Sequence[float],
    base: LifetimeConfig | None = None,
    out_dir: str | Path | None = None,
    executor: str = "local",
    max_workers: int | None = None,
    checkpoint: str | Path | None = None,
    ray_address: str | None = None,
) -> list[dict[str, Any]]:
    """Lifetimes of every policy x cell x ambient temperature through :func:`eomctl.core.executor.run_tasks`.

    Each task writes ``<out_dir>/life_<i>.csv`` (when ``out_dir`` is given) and returns :func:`summary`'s dict plus
    cell, ambient and CSV path, in the order policies x cells x ambients; ``checkpoint`` skips finished tasks on a
    rerun; ``executor="ray"`` with ``ray_address`` runs on a Ray cluster.
    """
    base = base or LifetimeConfig()
    kwargs_list = []
    for i, (policy, cell, ambient_c) in enumerate((p, c, a) for p in policies for c in cells for a in ambients_c):
        config = dataclasses.replace(base, policy=policy, cell=cell, ambient_c=float(ambient_c))
        csv = Path(out_dir) / f"life_{i:03d}.csv" if out_dir is not None else None
        kwargs_list.append(lifetime_task_kwargs(config, csv))
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    return run_tasks(
        lifetime_task,
        kwargs_list,
        executor=executor,
        max_workers=max_workers,
        ray_address=ray_address,
        checkpoint=checkpoint,
    )
