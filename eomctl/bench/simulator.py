"""Per-step cost of eomctl's compiled CasADi stepping against PyBaMM's ``Simulation.step`` and the bare integrator.

Every path models the same cell (LG M50, eomctl's default NMC cell), the same PyBaMM model options, the same parameter
values and the same initial state (10 % SOC, ambient temperature), and applies the same constant charging current for
the same number of ``dt``-second steps. Each model is built once, before any timing; each repeat restarts from 10 %
SOC. Paths:

* ``eomctl jit`` / ``eomctl nojit``: :meth:`eomctl.cell.simulator.CellSimulator.step` with ``compile=True`` / ``False``.
* ``pybamm save=True`` / ``save=False``: ``pybamm.Simulation.step(dt, inputs={"Current function [A]": -I})`` with
  PyBaMM's default solver (IDAKLU, default tolerances) on a model built with the current as an input parameter.
* ``bare integrator``: the compiled simulator's own CasADi integrator called in a tight loop (state fed back, fixed
  parameter vector), with no output evaluation and no bookkeeping: the floor for ``CellSimulator.step``.

The current is chosen so that no path reaches the upper voltage cut-off (checked after every step). The script
``benchmarks/bench_simulator.py`` prints the table; the reproduce command's ``performance`` part records it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import casadi
import numpy as np
import pybamm

from eomctl.cell.catalogue import Cell
from eomctl.cell.simulator import (
    AMBIENT_INPUT,
    CURRENT_SLOPE_INPUT,
    CURRENT_START_INPUT,
    INITIAL_T_INPUT,
    MODEL_CLASSES,
    CellSimulator,
    SimulatorConfig,
    StepResult,
)

CELL = "LGM50"
INITIAL_SOC = 0.1
CASES: dict[str, SimulatorConfig] = {
    "SPM": SimulatorConfig(model="SPM", thermal="lumped"),
    "SPMe": SimulatorConfig(model="SPMe", thermal="lumped"),
    # PyBaMM's own plating kinetics: every path runs the same model.
    "SPMe+SEI+plating": SimulatorConfig(model="SPMe", thermal="lumped", degradation=True, plating_kinetics="pybamm"),
}
PYBAMM_CURRENT = "Current function [A]"
# Targets of the issue: minimum speed-up over Simulation.step (save=True) and maximum overhead over the bare integrator.
SPEEDUP_TARGET = {"SPMe": 10.0, "SPMe+SEI+plating": 5.0}
FLOOR_TARGET = {"SPMe": 1.5}


@dataclass(frozen=True)
class Timing:
    """How a path is timed: ``steps`` steps of ``dt`` seconds, ``repeats`` times (the median is reported)."""

    steps: int = 200
    dt: float = 30.0
    repeats: int = 3


@dataclass
class PathResult:
    """Timings of one stepping path on one case.

    Attributes
    ----------
    name : str
        Path label printed in the table.
    build_s : float or None
        Wall time to build the model (and, for PyBaMM, to set up the solver on the first step) [s].
    ms_per_step, cpu_ms_per_step : list of float
        Mean wall and process CPU time per step of each repeat [ms]. CPU time is less disturbed by other processes
        sharing the machine.
    final_voltage_v : float
        Terminal voltage after the last step of the last repeat [V].
    max_voltage_v : float
        Highest end-of-step voltage seen in any repeat [V].
    """

    name: str
    build_s: float | None
    ms_per_step: list[float] = field(default_factory=list)
    cpu_ms_per_step: list[float] = field(default_factory=list)
    final_voltage_v: float = float("nan")
    max_voltage_v: float = float("-inf")

    @property
    def median_ms(self) -> float:
        """Median over the repeats of the mean wall time per step [ms]."""
        return statistics.median(self.ms_per_step)

    @property
    def median_cpu_ms(self) -> float:
        """Median over the repeats of the mean process CPU time per step [ms]."""
        return statistics.median(self.cpu_ms_per_step)


def charging_current(cell: Cell, steps: int, dt_s: float, c_rate: float | None) -> float:
    """Constant charging current [A] for the run: ``c_rate`` C, by default at most 1C and at most 75 % SOC added.

    Parameters
    ----------
    cell : Cell
        The cell (its nominal capacity sets 1C).
    steps : int
        Number of steps per repeat.
    dt_s : float
        Step length [s].
    c_rate : float or None
        Requested C-rate; None picks ``min(1, 0.75 h / run duration)``.

    Returns
    -------
    float
        Current [A], positive while charging.
    """
    if c_rate is None:
        c_rate = min(1.0, 0.75 / (steps * dt_s / 3600.0))
    return c_rate * cell.capacity_ah


def timed_runs(
    result: PathResult,
    repeats: int,
    steps: int,
    reset: Callable[[], None],
    run: Callable[[], None],
    check: Callable[[], tuple[float, float]],
) -> PathResult:
    """Time ``run`` ``repeats`` times; ``reset`` before and ``check`` after each repeat are not timed.

    Parameters
    ----------
    result : PathResult
        Filled in place and returned.
    repeats, steps : int
        Number of timed repeats and steps per repeat (for the per-step mean).
    reset : callable
        Returns the path to the initial state.
    run : callable
        Takes all ``steps`` steps.
    check : callable
        Verifies the run (raises if a cut-off or solver failure ended it); returns ``(final, highest)`` voltage [V].

    Returns
    -------
    PathResult
        ``result``.
    """
    for _ in range(repeats):
        reset()
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        result.ms_per_step.append((time.perf_counter() - start) / steps * 1e3)
        result.cpu_ms_per_step.append((time.process_time() - start_cpu) / steps * 1e3)
        result.final_voltage_v, max_v = check()
        result.max_voltage_v = max(result.max_voltage_v, max_v)
    return result


def bench_eomctl(
    cell: Cell, config: SimulatorConfig, compile_c: bool, current_a: float, args: Timing
) -> tuple[CellSimulator, PathResult]:
    """Build a :class:`CellSimulator` once and time ``steps`` calls of :meth:`CellSimulator.step`.

    Parameters
    ----------
    cell : Cell
        The cell.
    config : SimulatorConfig
        Model options; ``compile`` is overridden by ``compile_c``.
    compile_c : bool
        JIT-compile the integrator with gcc.
    current_a : float
        Charging current [A].
    args : Timing
        Command-line arguments.

    Returns
    -------
    tuple of (CellSimulator, PathResult)
        The simulator (reused for the bare-integrator floor) and the timings.
    """
    start = time.perf_counter()
    sim = CellSimulator(cell, SimulatorConfig(**{**config.__dict__, "compile": compile_c}))
    result = PathResult("eomctl step, " + ("jit" if compile_c else "no jit"), time.perf_counter() - start)

    history: list[StepResult] = []

    def reset() -> None:
        sim.reset(soc=INITIAL_SOC)
        history.clear()

    def run() -> None:
        for _ in range(args.steps):
            history.append(sim.step(current_a, args.dt))

    def check() -> tuple[float, float]:
        reasons = {step.stop_reason for step in history}
        if reasons != {"time"}:
            raise RuntimeError(f"eomctl steps ended by {sorted(reasons)}; lower the current or --steps")
        return history[-1].voltage_v, max(step.voltage_v for step in history)

    return sim, timed_runs(result, args.repeats, args.steps, reset, run, check)


def bench_bare_integrator(sim: CellSimulator, current_a: float, args: Timing) -> PathResult:
    """Time the simulator's own integrator in a tight loop: the floor for :meth:`CellSimulator.step`.

    The parameter vector (inputs with the applied current, then ``dt``) is built once; each call starts from the
    previous call's final state (a CasADi ``DM``, passed back as is). Nothing else is evaluated inside the loop.

    Parameters
    ----------
    sim : CellSimulator
        A built simulator (the compiled one).
    current_a : float
        Charging current [A].
    args : Timing
        Command-line arguments.

    Returns
    -------
    PathResult
        The timings; voltages come from the simulator's output function after the loop.
    """
    sim.reset(soc=INITIAL_SOC)
    p0 = sim.state.inputs.copy()
    p0[sim.input_names.index(CURRENT_START_INPUT)] = -current_a  # PyBaMM sign: positive discharges
    p0[sim.input_names.index(CURRENT_SLOPE_INPUT)] = 0.0
    p = np.append(p0, args.dt)
    x_init = casadi.DM(sim.state.x)
    z_init = casadi.DM(sim.state.z)
    integrator = sim._integrator
    has_z = sim.n_z > 0
    state: dict[str, casadi.DM] = {}

    def reset() -> None:
        state["x"], state["z"] = casadi.DM(x_init), casadi.DM(z_init)

    def run() -> None:
        x, z = state["x"], state["z"]
        if has_z:
            for _ in range(args.steps):
                out = integrator(x0=x, z0=z, p=p)
                x, z = out["xf"], out["zf"]
        else:
            for _ in range(args.steps):
                x = integrator(x0=x, p=p)["xf"]
        state["x"], state["z"] = x, z

    def check() -> tuple[float, float]:
        voltage = float(sim._outputs(state["x"], state["z"], p0)[sim.output_names.index("voltage_v")])
        return voltage, voltage

    return timed_runs(PathResult("bare integrator (jit)", None), args.repeats, args.steps, reset, run, check)


def pybamm_parameter_values(sim: CellSimulator) -> pybamm.ParameterValues:
    """The cell's parameter values as eomctl uses them, with the current as an input and the initial state at 10 % SOC.

    Parameters
    ----------
    sim : CellSimulator
        The eomctl simulator whose cell, nominal temperatures and model options are matched.

    Returns
    -------
    pybamm.ParameterValues
        ``cell.parameter_values`` plus "Contact resistance [Ohm]" = 0 if absent, "Current function [A]" as
        "[input]", ambient and initial temperature equal to eomctl's, initial concentrations at 10 % SOC.
    """
    values = sim.cell.parameter_values.copy()
    if "Contact resistance [Ohm]" not in values:
        values.update({"Contact resistance [Ohm]": 0.0}, check_already_exists=False)
    values.set_initial_state(INITIAL_SOC, options=sim._pybamm_options)  # before the current becomes an input
    values.update(
        {
            PYBAMM_CURRENT: "[input]",
            "Ambient temperature [K]": sim.nominal_inputs[AMBIENT_INPUT],
            "Initial temperature [K]": sim.nominal_inputs[INITIAL_T_INPUT],
        }
    )
    return values


def bench_pybamm(
    sim: CellSimulator, save: bool, current_a: float, args: Timing
) -> tuple[PathResult, dict[str, object]]:
    """Build a ``pybamm.Simulation`` once and time ``steps`` calls of ``Simulation.step`` with the current as input.

    Parameters
    ----------
    sim : CellSimulator
        The eomctl simulator whose model class, options and parameter values are matched.
    save : bool
        ``save`` argument of ``Simulation.step`` (True: the solution grows every step).
    current_a : float
        Charging current [A].
    args : Timing
        Command-line arguments.

    Returns
    -------
    tuple of (PathResult, dict)
        The timings (build includes the first step, where PyBaMM sets the solver up) and the options PyBaMM used.
    """
    start = time.perf_counter()
    model = MODEL_CLASSES[sim.config.model](dict(sim.options))
    simulation = pybamm.Simulation(model, parameter_values=pybamm_parameter_values(sim))
    simulation.build()
    inputs = {PYBAMM_CURRENT: -current_a}  # PyBaMM: positive current discharges
    simulation.step(args.dt, inputs=inputs, save=save)  # sets the solver up (Jacobians, compilation)
    result = PathResult(f"pybamm Simulation.step save={save}", time.perf_counter() - start)

    solutions: list[pybamm.Solution] = []

    def reset() -> None:
        simulation._solution = None  # no public reset: start again from the model's initial conditions
        solutions.clear()

    def run() -> None:
        for _ in range(args.steps):
            solutions.append(simulation.step(args.dt, inputs=inputs, save=save))

    def check() -> tuple[float, float]:
        # docs/physics.md §7, pitfall 5: a step after an event can silently return the old state; check the clock.
        t_end = float(solutions[-1].t[-1])
        if abs(t_end - args.steps * args.dt) > 1e-6 * args.steps * args.dt:
            raise RuntimeError(f"PyBaMM stopped early at t = {t_end} s (voltage cut-off event or solver failure)")
        ends = [float(s["Voltage [V]"].entries[-1]) for s in (solutions if not save else solutions[-1:])]
        max_v = float(np.max(solutions[-1]["Voltage [V]"].entries)) if save else max(ends)
        return ends[-1], max_v

    return timed_runs(result, args.repeats, args.steps, reset, run, check), dict(model.options)


@dataclass
class CaseResult:
    """Every path's timings on one case.

    Attributes
    ----------
    name : str
        Case label (a key of :data:`CASES`).
    rows : list of PathResult
        In order: eomctl jit, eomctl no jit, bare integrator, PyBaMM save=True, PyBaMM save=False.
    matched : bool
        Whether PyBaMM's resolved model options equal eomctl's.
    options : dict
        eomctl's model options.
    """

    name: str
    rows: list[PathResult]
    matched: bool
    options: dict[str, str]


def run_case(cell: Cell, name: str, current_a: float, args: Timing) -> CaseResult:
    """Build and time every path on one case (callable in-process, e.g. by ``eomctl reproduce``).

    Parameters
    ----------
    cell : Cell
        The cell.
    name : str
        A key of :data:`CASES`.
    current_a : float
        Charging current [A] (see :func:`charging_current`).
    args : Timing
        ``steps``, ``dt`` [s] and ``repeats`` (as :func:`parse_args` returns them, or built directly).

    Returns
    -------
    CaseResult
        The five paths' timings.
    """
    config = CASES[name]
    sim_jit, jit = bench_eomctl(cell, config, True, current_a, args)
    _, nojit = bench_eomctl(cell, config, False, current_a, args)
    bare = bench_bare_integrator(sim_jit, current_a, args)
    pb_save, pb_options = bench_pybamm(sim_jit, True, current_a, args)
    pb_nosave, _ = bench_pybamm(sim_jit, False, current_a, args)
    matched = pb_options == dict(sim_jit._pybamm_options)
    return CaseResult(name, [jit, nojit, bare, pb_save, pb_nosave], matched, dict(sim_jit.options))
