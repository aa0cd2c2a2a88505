"""Lifetime simulation: cycle a cell to end of life under a charging policy, cycle by cycle or with extrapolation.

A cycle (:mod:`eomctl.lifetime.cycling`) is: charge under the policy (to the target SOC or until the policy is done),
rest, discharge (constant C-rate or a drive cycle) to the lower cut-off, rest, with SEI growth, lithium plating and,
where the parameter set supports it, stress-driven loss of active material switched on. Every ``rpt_every`` cycles a
reference performance test (C/3 capacity, 10 s pulse resistance at 50 % SOC) measures the state of health
``SOH = capacity / capacity at the first RPT``; the run stops at ``SOH <= eol_soh`` or after ``max_cycles``.

Fast mode (``fast=True``): adaptive inter-cycle extrapolation after Sulzer et al. (J. Electrochem. Soc. 168 (2021)
120531), in :mod:`eomctl.lifetime.extrapolation`. Comparisons at matched charge time and sweeps over policies x cells x
temperatures are in :mod:`eomctl.lifetime.compare`, the command line in :mod:`eomctl.cli.lifetime`.

Checkpoints (``checkpoint=path``) are atomic JSON files of the simulator state (CasADi ``DM`` vectors stored as lists;
JSON floats round-trip exactly), the loop state and the rows so far; ``resume=True`` continues from one and gives the
same rows as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eomctl.cell.catalogue import load_cell
from eomctl.cell.simulator import CellSimulator, PlatingKinetics, SimState, SimulatorConfig
from eomctl.charging.scenarios import load_scenario
from eomctl.core.constants import KELVIN_OFFSET, SECONDS_PER_HOUR
from eomctl.core.errors import CheckpointError, ConfigError, MissingParameterError
from eomctl.core.interrupts import Interrupted
from eomctl.core.io import write_csv, write_json
from eomctl.lifetime.cycling import (
    CyclingError,
    PolicyAdapter,
    charge_with_policy,
    discharge,
    parse_discharge,
    reference_test,
    rest,
    with_overrides,
)
from eomctl.lifetime.extrapolation import (
    MIN_JUMP,
    assess_jump,
    cycle_drift,
    error_groups,
    grown_length,
    held_mask,
    jump_room,
    midpoint_state,
    shrunk_length,
)
from eomctl.policies.protocol import Policy
from eomctl.policies.specs import parse_policy

CSV_COLUMNS = (
    "cycle",
    "soh",
    "capacity_ah",
    "resistance_ohm",
    "charge_time_s",
    "entropy_charge_j_per_k",
    "lli_pct",
    "lam_neg_pct",
    "lam_pos_pct",
    "plating_ah",
    "sei_ah",
    "extrapolated",
    "discharge_ah",  # charge delivered by this cycle's discharge [A.h]
    "rpt",  # 1 for a reference-performance-test row (soh, capacity_ah, resistance_ohm measured), else 0
)
DEGRADATION_KEYS = ("lli_pct", "lam_neg_pct", "lam_pos_pct", "plating_ah", "sei_ah")
# The rate constants of every degradation mechanism PyBaMM's submodels use (whichever SEI model the cell's option picks
# reads only its own): ``aging_acceleration`` multiplies all of them by one factor, so the mechanisms keep their
# relative weight. Accelerating the SEI alone (a common shortcut) makes the thermally activated SEI dominate and
# hides the plating that sets the life of a cold, fast-charged cell (docs/physics.md §5).
AGING_RATE_PARAMETERS = (
    "SEI solvent diffusivity [m2.s-1]",  # solvent-diffusion limited: dL/dt ~ D / L
    "SEI kinetic rate constant [m.s-1]",  # reaction limited, and the kinetic part of EC reaction limited
    "EC diffusivity [m2.s-1]",  # EC reaction limited: transport part
    "SEI lithium interstitial diffusivity [m2.s-1]",  # interstitial-diffusion limited
    "SEI electron conductivity [S.m-1]",  # electron-migration limited
    "Lithium plating kinetic rate constant [m.s-1]",  # plating and stripping exchange current (O'Kane 2020)
    "Dead lithium decay constant [s-1]",  # reversible plated lithium turning dead (O'Kane 2022)
    "Negative electrode LAM constant proportional term [s-1]",  # stress-driven LAM (Reniers 2019)
    "Positive electrode LAM constant proportional term [s-1]",
)
CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class LifetimeConfig:
    """A lifetime experiment.

    Parameters
    ----------
    policy : str
        Policy spec (:func:`eomctl.policies.baselines.parse_policy`) or path of a trained model.
    cell : str
        Cell name or file (:func:`eomctl.cell.catalogue.load_cell`).
    scenario : str
        Scenario giving the policy's observation set, ``dt_s``, ``c_rate_max``, temperature limit and target SOC.
    model : {"SPM", "SPMe", "DFN"}
        Cell model.
    ambient_c : float
        Ambient temperature [C] (the cell starts at it).
    discharge : str
        "1C", "C/2", ... or a drive cycle "US06[:<mean C-rate>]".
    target_soc : float or None
        Charge until this SOC; None: the scenario's target; 1.0: full (until the policy is done).
    rest_s : float
        Rest after the charge and after the discharge [s].
    charge_time_limit_s : float
        Longest charge [s].
    eol_soh : float
        End of life at this fraction of the first RPT capacity.
    max_cycles : int
        Cycle cap.
    rpt_every : int
        Cycles between reference tests; 0: only at cycle 0 and at the cycle cap.
    rpt : bool
        Run reference tests at all (False: pure cycling, e.g. to validate against PyBaMM; no SOH, no EOL).
    fast : bool
        Adaptive inter-cycle extrapolation (module docstring).
    fast_rtol : float
        Accepted difference between one jump and two half jumps, relative to the size of the degradation states (and
        of the fast states); the kept Richardson value is second-order accurate, so its error is much smaller.
    fast_max_jump : int
        Largest jump [cycles].
    loss_of_active_material : bool or None
        Stress-driven LAM; None: on when the cell has the parameters.
    cell_overrides : tuple of (name, value) pairs
        Parameter values to replace, e.g. ``(("SEI solvent diffusivity [m2.s-1]", 2.5e-20),)`` to accelerate the SEI
        alone. Applied after ``aging_acceleration``, so an override wins.
    aging_acceleration : float
        Multiply the rate constants of every degradation mechanism (:data:`AGING_RATE_PARAMETERS`: SEI, plating and
        dead-lithium formation, LAM) by this factor, to reach end of life in fewer cycles with the mechanisms' balance
        kept. It is not an exact change of time scale: diffusion-limited SEI after N cycles equals the unaccelerated
        SEI after ``factor * N`` cycles, but plated lithium also strips faster, so plating loss per cycle grows less
        than the factor (measured at x100: about x3 at 0 C). 1: unaccelerated.
    compile : bool or None
        JIT-compile the integrator (see :class:`~eomctl.cell.simulator.SimulatorConfig`).
    plating_kinetics : {"consistent", "pybamm"}
        Lithium plating rate law (see :class:`~eomctl.cell.simulator.SimulatorConfig`); "pybamm" reproduces PyBaMM's
        own model, e.g. to validate against its Experiment cycling.
    """

    policy: str = "cccv:rate=1C,vmax=4.2,cutoff=C/20"
    cell: str = "LGM50"
    scenario: str = "FastCharge"
    model: str = "SPMe"
    ambient_c: float = 25.0
    discharge: str = "1C"
    target_soc: float | None = None
    rest_s: float = 600.0
    charge_time_limit_s: float = 4.0 * SECONDS_PER_HOUR
    eol_soh: float = 0.8
    max_cycles: int = 3000
    rpt_every: int = 50
    rpt: bool = True
    fast: bool = False
    fast_rtol: float = 0.02
    fast_max_jump: int = 100
    loss_of_active_material: bool | None = None
    cell_overrides: tuple[tuple[str, float], ...] = ()
    aging_acceleration: float = 1.0
    compile: bool | None = None
    plating_kinetics: PlatingKinetics = "consistent"

    def validate(self) -> None:
        """Raise :class:`~eomctl.core.errors.ConfigError` for values out of range."""
        if not 0.0 < self.eol_soh < 1.0:
            raise ConfigError(f"eol_soh must lie in (0, 1); got {self.eol_soh}")
        if self.max_cycles < 1 or self.rpt_every < 0 or self.fast_max_jump < 4:
            raise ConfigError("max_cycles must be >= 1, rpt_every >= 0 and fast_max_jump >= 4")
        if self.target_soc is not None and not 0.0 < self.target_soc <= 1.0:
            raise ConfigError(f"target_soc must lie in (0, 1]; got {self.target_soc}")
        if self.rest_s < 0 or not self.fast_rtol > 0:
            raise ConfigError("rest_s must be >= 0 and fast_rtol > 0")
        if not (math.isfinite(self.aging_acceleration) and self.aging_acceleration > 0):
            raise ConfigError(f"aging_acceleration must be a positive number; got {self.aging_acceleration}")


@dataclass
class LifetimeResult:
    """Rows (one per simulated or reference cycle, :data:`CSV_COLUMNS`), the EOL cycle and the cost."""

    config: LifetimeConfig
    rows: list[dict[str, float]]
    eol_cycle: float | None
    cycles_simulated: int
    wall_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    def columns(self) -> dict[str, list[float]]:
        """The rows as CSV columns."""
        return {name: [row[name] for row in self.rows] for name in CSV_COLUMNS}

    def write_csv(self, path: str | Path) -> Path:
        """Write the rows atomically (:func:`eomctl.core.io.write_csv`)."""
        return write_csv(path, self.columns())


def eol_cycle(rows: Sequence[Mapping[str, float]], eol_soh: float) -> float | None:
    """The cycle where SOH crosses ``eol_soh``, linear between the RPTs around it; None if it never does."""
    rpts = [(r["cycle"], r["soh"]) for r in rows if r["rpt"]]
    for (c0, s0), (c1, s1) in itertools.pairwise(rpts):
        if s1 <= eol_soh < s0:
            return float(c0 + (s0 - eol_soh) / (s0 - s1) * (c1 - c0))
    return float(rpts[0][0]) if rpts and rpts[0][1] <= eol_soh else None


def accelerated_rates(values: Mapping[str, Any], factor: float) -> dict[str, float]:
    """The degradation rate constants of ``values`` (:data:`AGING_RATE_PARAMETERS` it holds as numbers) times
    ``factor``; empty for a factor of 1."""
    if factor == 1.0:
        return {}
    held = [name for name in AGING_RATE_PARAMETERS if name in values]
    return {name: float(values[name]) * factor for name in held if isinstance(values[name], int | float)}


def build_simulator(config: LifetimeConfig) -> CellSimulator:
    """The cell model with degradation on; LAM too when asked or (``None``) when the cell has its parameters."""
    config.validate()
    cell = load_cell(config.cell)
    overrides = accelerated_rates(cell.parameter_values, config.aging_acceleration)
    cell = with_overrides(cell, {**overrides, **dict(config.cell_overrides)})
    options: dict[str, Any] = {
        "model": config.model,
        "degradation": True,
        "compile": config.compile,
        "plating_kinetics": config.plating_kinetics,
    }
    if config.loss_of_active_material is not False:
        try:
            return CellSimulator(cell, SimulatorConfig(loss_of_active_material=True, **options))
        except (MissingParameterError, ConfigError):
            if config.loss_of_active_material:
                raise
    return CellSimulator(cell, SimulatorConfig(**options))


class LifetimeRun:
    """One lifetime experiment's state: simulator, bound policy, loop counters and rows (see :func:`run_lifetime`)."""

    def __init__(
        self, config: LifetimeConfig, policy: Policy | None = None, simulator: CellSimulator | None = None
    ) -> None:
        config.validate()
        self.config = config
        self.scenario = load_scenario(config.scenario)
        self.sim = simulator if simulator is not None else build_simulator(config)
        self.sim.prepare_limits()  # every charge uses the limit controller: its build is set-up (build_s)
        self.adapter = PolicyAdapter(self.sim, self.scenario)
        self.policy = (policy if policy is not None else parse_policy(config.policy)).bind(self.adapter)
        self.discharge = parse_discharge(config.discharge)
        self.target_soc = config.target_soc if config.target_soc is not None else self.scenario.target_soc
        self.ambient_k = config.ambient_c + KELVIN_OFFSET
        self.sim.reset(soc=0.0, ambient_k=self.ambient_k)  # an empty, relaxed fresh cell
        self.error_groups = error_groups(self.sim)  # state variables weighed by the extrapolation's error
        self.held = held_mask(self.sim)  # states the extrapolation holds
        self.cycle, self.jump, self.after_jump, self.cycles_simulated = 0, 4, False, 0
        self.rows: list[dict[str, float]] = []
        self.trace: list[tuple[int, int, float, str]] = []  # extrapolation attempts: cycle, n, error, worst state
        self.reference_capacity_ah: float | None = None
        self.soh = 1.0

    # ------------------------------------------------------------------ cycles
    def _degradation(self) -> dict[str, float]:
        deg = self.sim.last.degradation
        return {k: float(deg.get(k, 0.0)) for k in DEGRADATION_KEYS}

    def run_cycle(self) -> dict[str, float]:
        """Simulate one cycle from the current (empty, rested) state and return its row."""
        cfg = self.config
        charge = charge_with_policy(
            self.sim, self.adapter, self.policy, self.target_soc, self.soh, cfg.charge_time_limit_s
        )
        rest(self.sim, cfg.rest_s)
        out = discharge(self.sim, self.discharge)
        rest(self.sim, cfg.rest_s)
        self.cycle += 1
        self.cycles_simulated += 1
        row = {
            "cycle": float(self.cycle),
            "soh": math.nan,
            "capacity_ah": math.nan,
            "resistance_ohm": math.nan,
            "charge_time_s": charge.duration_s,
            "entropy_charge_j_per_k": charge.entropy_j_per_k,
            **self._degradation(),
            "extrapolated": float(self.after_jump),
            "discharge_ah": -out.charge_ah,
            "rpt": 0.0,
        }
        self.after_jump = False
        return row

    def run_rpt(self) -> dict[str, float]:
        """Run a reference performance test and return its row (also sets :attr:`soh`)."""
        capacity_ah, resistance_ohm = reference_test(self.sim, self.config.rest_s)
        if self.reference_capacity_ah is None:
            self.reference_capacity_ah = capacity_ah
        self.soh = capacity_ah / self.reference_capacity_ah
        nan = math.nan
        return {
            "cycle": float(self.cycle),
            "soh": self.soh,
            "capacity_ah": capacity_ah,
            "resistance_ohm": resistance_ohm,
            "charge_time_s": nan,
            "entropy_charge_j_per_k": nan,
            **self._degradation(),
            "extrapolated": float(self.after_jump),
            "discharge_ah": nan,
            "rpt": 1.0,
        }

    def advance(self, on_row: Callable[[dict[str, float]], None] | None = None) -> bool:
        """One step of the run: an RPT when one is due, else a cycle (and, in fast mode, the jump after it); each new
        row goes to :attr:`rows` and ``on_row``. Returns False once the run has ended (end of life or the cycle cap)."""
        cfg = self.config
        if self.rows and self.rows[-1]["rpt"] and self.soh <= cfg.eol_soh:
            return False  # it ended at its last RPT: a finished run resumed from its checkpoint stays finished
        if _rpt_due(self):
            self._add(self.run_rpt(), on_row)
            return self.soh > cfg.eol_soh
        if self.cycle >= cfg.max_cycles:
            return False
        before = self.sim.state
        self._add(self.run_cycle(), on_row)
        if cfg.fast:
            for row in self.extrapolate(before):
                self._add(row, on_row)
        return True

    def _add(self, row: dict[str, float], on_row: Callable[[dict[str, float]], None] | None) -> None:
        self.rows.append(row)
        if on_row is not None:
            on_row(row)

    # ------------------------------------------------------------------ extrapolation
    def extrapolate(self, before: SimState) -> list[dict[str, float]]:
        """After a simulated cycle (``before`` = the state at its start), jump over skipped cycles if the error allows.

        Moves this run (state, cycle counter, jump length, trace) and returns the rows of the cycles it simulated for
        an accepted jump (the midpoint cycle of the error estimate and the cycle after the landing), or [] if no jump
        was made (see :mod:`eomctl.lifetime.extrapolation`).
        """
        cfg, sim = self.config, self.sim
        if len(self.rows) < 2 or self.rows[-2]["rpt"] or self.rows[-1]["extrapolated"]:
            return []  # the drift must span a regular cycle that began where a simulated regular cycle ended
        now = sim.state
        drift = cycle_drift(before, now, self.held)
        room = jump_room(self.cycle, cfg.max_cycles, cfg.rpt_every if cfg.rpt else 0)
        n = min(self.jump, room, cfg.fast_max_jump)
        while n >= MIN_JUMP:
            err, rows = self._try_jump(now, before, drift, n)
            if err <= cfg.fast_rtol:
                self.jump = grown_length(n, err, cfg.fast_rtol)
                return rows
            sim.restore(now)
            self.cycle, self.after_jump = int(self.rows[-1]["cycle"]), False
            n = shrunk_length(n, err, cfg.fast_rtol)
            self.jump = max(MIN_JUMP, n)
        return []

    def _try_jump(
        self, now: SimState, before: SimState, drift: np.ndarray, n: int
    ) -> tuple[float, list[dict[str, float]]]:
        """One jump of ``n`` cycles from ``now``: its error estimate and, if accepted, the rows it simulated.

        Simulates the midpoint cycle (for the step-doubling estimate), lands and simulates the cycle after the landing
        (the fast states relax back onto the cycle; a landing the solver cannot integrate from is rejected). Leaves
        the run at the end of that cycle; the caller restores ``now`` on a rejection.
        """
        cycle0 = self.cycle
        mid_start = midpoint_state(self.sim, now, before, drift, n)
        self.sim.restore(mid_start)
        self.after_jump, self.cycle = True, cycle0 + n // 2
        try:
            mid_row = self.run_cycle()  # the midpoint cycle, simulated from an extrapolated state
        except CyclingError:  # the half jump left the model's valid range: a rejected step
            self.trace.append((cycle0, n, math.inf, "solver"))
            return math.inf, []
        jump = assess_jump(self.sim, now, before, drift, mid_start, self.sim.state, n, self.error_groups, self.held)
        self.trace.append((cycle0, n, jump.error, jump.worst))
        if jump.error > self.config.fast_rtol:
            return jump.error, []
        self.sim.restore(jump.landing)
        self.cycle, self.after_jump = cycle0 + n, True
        try:
            after_row = self.run_cycle()
        except CyclingError:
            self.trace.append((cycle0, n, math.inf, "solver after landing"))
            return math.inf, []
        return jump.error, [mid_row, after_row]

    # ------------------------------------------------------------------ checkpoints
    def to_json(self) -> dict[str, Any]:
        """Everything needed to continue: config, loop state, rows, simulator state (lists of floats)."""
        s = self.sim.state
        return {
            "version": CHECKPOINT_VERSION,
            "config": dataclasses.asdict(self.config),
            "loop": {
                "cycle": self.cycle,
                "jump": self.jump,
                "after_jump": self.after_jump,
                "cycles_simulated": self.cycles_simulated,
                "reference_capacity_ah": self.reference_capacity_ah,
                "soh": self.soh,
            },
            "rows": list(self.rows),  # a copy: a snapshot must not grow with the run
            "state": {
                "time_s": s.time_s,
                "x": np.array(s.x).ravel().tolist(),
                "z": np.array(s.z).ravel().tolist(),
                "inputs": s.inputs.tolist(),
                "totals": s.totals.tolist(),
            },
        }

    def load_json(self, data: Mapping[str, Any]) -> None:
        """Continue from :meth:`to_json`'s output (raises if it belongs to another experiment)."""
        import casadi

        if data.get("version") != CHECKPOINT_VERSION:
            raise CheckpointError(f"the checkpoint has version {data.get('version')}; this eomctl reads "
                                  f"{CHECKPOINT_VERSION}")  # fmt: skip
        ours, theirs = config_as_json(self.config), data.get("config") or {}
        differ = sorted(k for k in ours if ours[k] != theirs.get(k))
        if differ:
            raise ConfigError(
                "the checkpoint belongs to a different lifetime experiment; options that differ: "
                + ", ".join(f"{k} (checkpoint {theirs.get(k)!r}, now {ours[k]!r})" for k in differ[:4])
            )
        loop, st = data["loop"], data["state"]
        self.cycle, self.jump, self.after_jump = int(loop["cycle"]), int(loop["jump"]), bool(loop["after_jump"])
        self.cycles_simulated = int(loop["cycles_simulated"])
        self.reference_capacity_ah, self.soh = loop["reference_capacity_ah"], float(loop["soh"])
        self.rows = [dict(r) for r in data["rows"]]
        x, z, p = casadi.DM(st["x"]), casadi.DM(st["z"]), np.array(st["inputs"], dtype=float)
        outputs = dict(zip(self.sim.output_names, self.sim.output_function(x, z, p.tolist()).nonzeros(), strict=True))
        self.sim.restore(SimState(float(st["time_s"]), x, z, p, np.array(st["totals"], dtype=float), outputs))


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A lifetime checkpoint's JSON; :class:`CheckpointError` for a file cut short or not a checkpoint."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"lifetime checkpoint '{path}' is unreadable (truncated?): {exc}") from None
    if not isinstance(data, dict) or not {"version", "config", "loop", "rows", "state"} <= set(data):
        raise CheckpointError(f"'{path}' is not a lifetime checkpoint (written by eomctl lifetime --checkpoint)")
    return data


def config_as_json(config: LifetimeConfig) -> Any:
    """The config as plain JSON types (what a checkpoint stores and a sweep task receives)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def run_lifetime(
    config: LifetimeConfig,
    policy: Policy | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    checkpoint_every: int = 10,
    on_row: Callable[[dict[str, float]], None] | None = None,
    simulator: CellSimulator | None = None,
) -> LifetimeResult:
    """Cycle a cell until end of life or ``config.max_cycles``.

    Parameters
    ----------
    config : LifetimeConfig
        The experiment.
    policy : Policy, optional
        A policy object (else ``config.policy`` is parsed).
    checkpoint : path, optional
        JSON file written atomically every ``checkpoint_every`` cycles (and at the end).
    resume : bool
        Continue from ``checkpoint`` if it exists.
    on_row : callable, optional
        Called with every new row (progress display; an exception raised there interrupts the run).
    simulator : CellSimulator, optional
        A simulator from :func:`build_simulator` with this config's cell and options, to reuse (it is reset to an
        empty fresh cell: nothing carries over between runs).

    Returns
    -------
    LifetimeResult
    """
    started = time.perf_counter()
    run = LifetimeRun(config, policy, simulator)
    build_s = time.perf_counter() - started
    if resume and checkpoint is not None and Path(checkpoint).is_file():
        run.load_json(read_checkpoint(Path(checkpoint)))
    last_saved, snapshot = run.cycle, run.to_json() if checkpoint is not None else None
    try:
        while run.advance(on_row):
            if checkpoint is not None:
                snapshot = run.to_json()  # the last whole cycle: what a Ctrl-C in the next one writes
                if run.cycle - last_saved >= checkpoint_every:
                    write_json(checkpoint, snapshot)
                    last_saved = run.cycle
    except KeyboardInterrupt as exc:
        if checkpoint is None:
            raise Interrupted(f"lifetime interrupted at cycle {run.cycle} (no --checkpoint: nothing kept)") from exc
        assert snapshot is not None  # taken before the loop whenever there is a checkpoint
        write_json(checkpoint, snapshot)
        cycle = snapshot["loop"]["cycle"]
        raise Interrupted(
            f"lifetime interrupted; checkpoint at cycle {cycle} written to {checkpoint}; "
            f"continue with the same options and --resume --checkpoint {checkpoint}"
        ) from exc
    if checkpoint is not None:
        write_json(checkpoint, run.to_json())
    wall_s = time.perf_counter() - started
    return LifetimeResult(
        config,
        run.rows,
        eol_cycle(run.rows, config.eol_soh),
        run.cycles_simulated,
        wall_s,
        {"build_s": build_s, "cycling_s": wall_s - build_s, "trace": run.trace},
    )


def run_lifetime_resumable(config: LifetimeConfig, checkpoint: Path, simulator: CellSimulator | None = None
                           ) -> LifetimeResult:  # fmt: skip
    """:func:`run_lifetime` resumed from ``checkpoint`` when it exists; a checkpoint left by another experiment (the
    resume refuses it with :class:`ConfigError`, e.g. an older budget) is deleted and the run starts afresh."""
    try:
        return run_lifetime(config, simulator=simulator, checkpoint=checkpoint, resume=True)
    except ConfigError:
        checkpoint.unlink(missing_ok=True)
        return run_lifetime(config, simulator=simulator, checkpoint=checkpoint)


def _rpt_due(run: LifetimeRun) -> bool:
    """An RPT at cycle 0, every ``rpt_every`` cycles and at the cycle cap (never twice in a row; none if rpt=False)."""
    cfg = run.config
    if not cfg.rpt:
        return False
    if not run.rows:
        return True
    periodic = cfg.rpt_every > 0 and run.cycle % cfg.rpt_every == 0
    return not run.rows[-1]["rpt"] and (periodic or run.cycle >= cfg.max_cycles)
