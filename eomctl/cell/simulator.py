"""A PyBaMM cell model built once and stepped through a compiled CasADi integrator.

This module is the only place in eomctl that talks to PyBaMM internals. It processes and discretises a PyBaMM model
once, with the applied current, the ambient and initial temperature and the initial electrode concentrations as *input
parameters*, converts the discretised equations to CasADi and builds one CVODES (ODE) or IDAS (DAE) integrator over a
normalised step ``tau in [0, 1]`` whose length ``dt_s`` is a parameter. Stepping then costs one integrator call: nothing
is re-processed per step (the approach of liionpack and docs/physics.md §7, pitfall 6).

Entropy accounting follows Bernardi et al. (J. Electrochem. Soc. 132 (1985) 5): the irreversible heat is
``Q_irr = I_ch (V - U_bulk)`` and the entropy production rate ``Sigma_dot = Q_irr / T``. These and the electrical energy
``I_ch V`` and free energy ``I_ch U_bulk`` are integrated over each step as CVODES/IDAS *quadratures*, i.e. exactly to
the solver's tolerance, never from a step-start value (a step-start rectangle rule is 0.4 % off at dt = 60 s).

Sign convention: eomctl's ``current_a`` is positive while charging; PyBaMM's "Current [A]" is positive on discharge.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import casadi
import numpy as np
import pybamm
import scipy.optimize

from eomctl.cell import plating
from eomctl.cell.catalogue import Cell, check_parameters
from eomctl.cell.compiled_model import (
    AMBIENT_INPUT,
    BASE_INPUTS,
    C_N_INPUT,
    C_P_INPUT,
    CONTROL_SMOOTHING_A,
    CURRENT_INPUT,
    CURRENT_SLOPE_INPUT,
    CURRENT_START_INPUT,
    DEGRADATION_OUTPUTS,
    INITIAL_T_INPUT,
    JIT_FLAGS,
    NO_LIMIT,
    QUADRATURES,
    ControlledStep,
    compile_controller,
    compile_model,
)
from eomctl.cell.rootfind import LimitMemory, bracketed_search, illinois, next_limit_memory, predicted_search
from eomctl.core.constants import SECONDS_PER_HOUR
from eomctl.core.errors import ConfigError
from eomctl.core.interrupts import deferred
from eomctl.core.streams import solver_messages_hidden

ModelName = Literal["SPM", "SPMe", "DFN"]
LimitControl = Literal["controller", "search"]
PlatingKinetics = Literal["consistent", "pybamm"]
ThermalName = Literal["isothermal", "lumped"]

MODEL_CLASSES: dict[str, type[pybamm.lithium_ion.BaseModel]] = {
    "SPM": pybamm.lithium_ion.SPM,
    "SPMe": pybamm.lithium_ion.SPMe,
    "DFN": pybamm.lithium_ion.DFN,
}

#: (current_max_a, v_max_v, anode_min_v, t_max_k) of a controlled step; absent limits as NO_LIMIT's stand-ins.
Limits = tuple[float, float, float, float]

FAILED_TRIAL_VIOLATION = 1.0  # stand-in violation [V or K] of a trial current the integrator could not follow
MAX_CHUNK_S = 120.0  # longest single integrator call of a constant-current step [s]
MAX_PHASE_CHUNK_S = 1800.0  # longest single integrator call of a controlled charge phase [s]
PHASE_AIM = 1.1  # a controlled phase's next call runs this multiple of the time its end is predicted in
RELAXATION_S = 1800.0  # rest after which plated lithium not stripped back counts as lost (irreversible_loss)
STEPPED_FALLBACK_S = 30.0  # a controlled phase whose calls fail this short goes on in limited steps this long
CV_REACHED_V = 5e-3  # a charge is in its CV phase once the voltage is this close to its limit (as CC-CV's done())
PHASE_FTOL = 1e-3  # a phase's end: |progress| below this (current within 0.1 % of its cut-off, SOC within 1e-5)
SOC_PROGRESS_SCALE = 100.0  # weight of the SOC still to go against log(I / I_cut) in a phase's end condition


@dataclass(frozen=True)
class SimulatorConfig:
    """How to build the cell model.

    Parameters
    ----------
    model : {"SPM", "SPMe", "DFN"}
        PyBaMM lithium-ion model.
    thermal : {"isothermal", "lumped"}
        Thermal model. "lumped" is a single-temperature energy balance with Newton cooling to ambient.
    degradation : bool
        Add SEI growth and lithium plating with the submodels the cell's parameter set supports.
    loss_of_active_material : bool
        Add stress-driven loss of active material (needs the parameter set's mechanics parameters).
    heat_of_mixing : bool or None
        PyBaMM's "heat of mixing" option (docs/physics.md §7, pitfall 2: without it the lumped temperature misses the
        particle diffusion loss). None: on for lumped thermal when the cell marks it reliable.
    contact_resistance : bool
        Add a lumped contact resistance "Contact resistance [Ohm]" (an input parameter, 0 Ohm unless given at reset).
    mechanism_split : bool
        Also integrate the entropy production of each overpotential (reaction, particle diffusion, ...).
    compile : bool or None
        JIT-compile the integrator's functions to C (needs a C compiler; a few seconds per build, 2-3x faster steps).
        None: compile when a compiler is found.
    rtol, atol : float
        Integrator tolerances (PyBaMM's defaults).
    extra_inputs : tuple of str
        Further parameter names turned into inputs so they can change at every reset without rebuilding
        (cell-to-cell spread, aging state).
    var_pts : tuple of (str, int) pairs
        Mesh points overriding PyBaMM's defaults, e.g. (("r_n", 30),).
    jit_flags : tuple of str
        C compiler flags of the JIT build (``benchmarks/bench_jit_flags.py`` compares choices side by side).
    few_calls : bool
        Run long constant-current steps and voltage holds in as few integrator calls as is safe: long steps in
        adaptive chunks (:meth:`CellSimulator._chunk_s`), each hold interval started from the current decay of the
        last one (:meth:`CellSimulator._predicted_hold`). False: the earlier paths (calls of at most ``MAX_CHUNK_S``,
        every hold interval bracketed afresh), kept to measure against.
    limit_control : {"controller", "search"}
        How :meth:`CellSimulator.step_limited` and :meth:`CellSimulator.charge_until` keep the limits. "controller":
        the current is an unknown of the model, the largest that keeps every limit at every instant (one integrator
        call per step, a second compiled integrator built on first use; :func:`~eomctl.cell.compiled_model.
        compile_controller`). "search": the earlier path, the largest *constant* current over the step whose end
        state keeps the limits, found by repeated integration (about 2-4 calls per limited step), kept to measure
        against.
    plating_kinetics : {"consistent", "pybamm"}
        Lithium plating rate law (with ``degradation``). "consistent": Butler-Volmer about the lithium metal
        equilibrium, no reaction above 0 V vs Li/Li+ without plated lithium, Arrhenius exchange currents
        (:mod:`eomctl.cell.plating`). "pybamm": the cell's parameter set as PyBaMM runs it (O'Kane et al.: plates at
        positive potentials, no temperature dependence), kept to compare against.
    """

    model: ModelName = "SPMe"
    thermal: ThermalName = "lumped"
    degradation: bool = False
    loss_of_active_material: bool = False
    heat_of_mixing: bool | None = None
    contact_resistance: bool = True
    mechanism_split: bool = False
    compile: bool | None = None
    rtol: float = 1e-6
    atol: float = 1e-6
    extra_inputs: tuple[str, ...] = ()
    var_pts: tuple[tuple[str, int], ...] = ()
    jit_flags: tuple[str, ...] = JIT_FLAGS
    few_calls: bool = True
    limit_control: LimitControl = "controller"
    plating_kinetics: PlatingKinetics = "consistent"

    def validate(self) -> None:
        """Raise :class:`~eomctl.core.errors.ConfigError` if an option is unknown or out of range."""
        if self.model not in MODEL_CLASSES:
            raise ConfigError(f"unknown model '{self.model}'; choose one of {sorted(MODEL_CLASSES)}")
        if self.thermal not in ("isothermal", "lumped"):
            raise ConfigError(f"unknown thermal model '{self.thermal}'; choose 'isothermal' or 'lumped'")
        if self.limit_control not in ("controller", "search"):
            raise ConfigError(f"unknown limit_control '{self.limit_control}'; choose 'controller' or 'search'")
        if self.plating_kinetics not in ("consistent", "pybamm"):
            raise ConfigError(f"unknown plating_kinetics '{self.plating_kinetics}'; choose 'consistent' or 'pybamm'")
        if not (0 < self.rtol < 1 and 0 < self.atol < 1):
            raise ConfigError(f"tolerances must lie in (0, 1); got rtol={self.rtol}, atol={self.atol}")
        if not all(isinstance(flag, str) and flag.startswith("-") for flag in self.jit_flags):
            raise ConfigError(f"jit_flags must be compiler options such as '-O2'; got {self.jit_flags}")
        for name, points in self.var_pts:
            if int(points) < 3:
                raise ConfigError(f"mesh '{name}' needs at least 3 points; got {points}")


@dataclass(frozen=True)
class IrreversibleLoss:
    """Lithium inventory lost so far, and the part of it no rest gives back (:meth:`CellSimulator.irreversible_loss`).

    Attributes
    ----------
    lli_pct : float
        Loss of lithium inventory now [% of the fresh cell's cyclable lithium].
    irreversible_pct : float
        What is still lost after an open-circuit rest of ``relax_s``: SEI, dead lithium, plated lithium that did not
        strip back [%]. Never above ``lli_pct``.
    recovered_ah : float
        Plated lithium that stripped back into the graphite during the rest [A.h].
    relax_s : float
        Length of the rest [s].
    """

    lli_pct: float
    irreversible_pct: float
    recovered_ah: float
    relax_s: float


@dataclass(frozen=True)
class SimState:
    """A snapshot of the simulator that :meth:`CellSimulator.restore` returns to exactly.

    ``x`` and ``z`` (differential and algebraic states) stay CasADi ``DM`` vectors between steps: converting them to
    NumPy and back costs more than a step's arithmetic. ``outputs`` caches the scalar outputs of this state.
    """

    time_s: float
    x: casadi.DM
    z: casadi.DM
    inputs: np.ndarray
    totals: np.ndarray
    outputs: dict[str, float]


@dataclass(frozen=True)
class StepResult:
    """What one step did and where it left the cell.

    Integrals (``entropy_j_per_k`` ... ``charge_in_ah``) are over this step only; ``totals`` holds them since the last
    reset. ``stop_reason`` is "time" when the full ``dt_s`` ran, "v_max" / "v_min" when a voltage cut-off ended the step
    early, and "solver_failure" when the integrator failed (the state is then the last good one).
    """

    time_s: float
    duration_s: float
    current_a: float
    voltage_v: float
    ocv_v: float
    temperature_k: float
    soc: float
    anode_potential_v: float
    entropy_j_per_k: float
    energy_in_j: float
    free_energy_j: float
    heat_irr_j: float
    t_weighted_entropy_j: float
    charge_in_ah: float
    totals: dict[str, float]
    degradation: dict[str, float] = field(default_factory=dict)
    mechanism_entropy_j_per_k: dict[str, float] = field(default_factory=dict)
    stop_reason: str = "time"

    @property
    def solver_failed(self) -> bool:
        """True when the integrator failed and the state was left unchanged."""
        return self.stop_reason == "solver_failure"

    @property
    def entropy_rate_w_per_k(self) -> float:
        """Mean entropy production rate over the step [W/K]."""
        return self.entropy_j_per_k / self.duration_s if self.duration_s > 0 else 0.0


class CellSimulator:
    """One cell, one PyBaMM model, built once and stepped with a new current each step.

    Parameters
    ----------
    cell : eomctl.cell.catalogue.Cell
        The cell (parameter values, voltage window, supported degradation options).
    config : SimulatorConfig, optional
        Model choice and options.

    Examples
    --------
    >>> from eomctl.cell.catalogue import load_cell
    >>> sim = CellSimulator(load_cell("Chen2020"), SimulatorConfig(model="SPM", compile=False))
    >>> sim.reset(soc=0.2)
    >>> result = sim.step(current_a=5.0, dt_s=30.0)
    >>> result.entropy_j_per_k > 0
    True
    """

    def __init__(self, cell: Cell, config: SimulatorConfig | None = None) -> None:
        self.cell = cell
        self.config = config or SimulatorConfig()
        # (current [A], d violation / d current [V/A or K/A], change of current from the limited step before [A])
        # of the last limited step: the start of the next limit search (see _search_current). Cleared by
        # reset/restore so a result never depends on earlier history.
        self._limit_memory: LimitMemory | None = None
        # (set voltage [V], current slope per ampere of current [1/s], end voltage per ampere of end current [V/A])
        # of the last voltage-hold interval: the next one starts its search there.
        self._hold_memory: tuple[float, float, float] | None = None
        self.config.validate()
        self.options = self._model_options()
        self.input_names: tuple[str, ...] = BASE_INPUTS + tuple(
            n for n in self.config.extra_inputs if n not in BASE_INPUTS
        )
        self._base_values = self._parameter_values_for_build()
        self.nominal_inputs = self._nominal_inputs()
        self._built = self._build_model()
        self._make_functions()
        self._window_cache: dict[tuple[tuple[str, float], ...], tuple[float, float, float, float]] = {}
        self.reset()

    # ------------------------------------------------------------------ build
    def _model_options(self) -> dict[str, str]:
        cfg, cell = self.config, self.cell
        options: dict[str, str] = {"thermal": cfg.thermal}
        hom = cfg.heat_of_mixing if cfg.heat_of_mixing is not None else cell.heat_of_mixing
        if hom and cfg.thermal == "lumped":
            options["heat of mixing"] = "true"
        if cfg.contact_resistance:
            options["contact resistance"] = "true"
        if cfg.degradation:
            if cell.sei_option is None and cell.plating_option is None:
                raise ConfigError(
                    f"cell '{cell.name}' has no SEI or lithium-plating parameters; degradation needs them"
                )
            if cell.sei_option is not None:
                options["SEI"] = cell.sei_option
            if cell.plating_option is not None:
                options["lithium plating"] = cell.plating_option
        if cfg.loss_of_active_material:
            options["loss of active material"] = "stress-driven"
            options["particle mechanics"] = "swelling only"
        return options

    def _parameter_values_for_build(self) -> pybamm.ParameterValues:
        values = self.cell.parameter_values.copy()
        if self.config.contact_resistance and "Contact resistance [Ohm]" not in values:
            values.update({"Contact resistance [Ohm]": 0.0}, check_already_exists=False)
        if self._consistent_plating and plating.ACTIVATION_ENERGY not in values:
            defaults = {plating.ACTIVATION_ENERGY: plating.DEFAULT_ACTIVATION_ENERGY_J_PER_MOL}
            values.update(defaults, check_already_exists=False)
        return values

    @property
    def _consistent_plating(self) -> bool:
        """Whether the model's plating runs the consistent kinetics (degradation on, a plating option, chosen)."""
        cfg = self.config
        return cfg.degradation and self.cell.plating_option is not None and cfg.plating_kinetics == "consistent"

    def _nominal_inputs(self) -> dict[str, float]:
        values = self._base_values
        nominal: dict[str, float] = {CURRENT_START_INPUT: 0.0, CURRENT_SLOPE_INPUT: 0.0}
        for name in self.input_names[2:]:
            value = values.get(name, None)
            if not isinstance(value, (int, float)):
                fallback = {AMBIENT_INPUT: 298.15, INITIAL_T_INPUT: 298.15}.get(name)
                if fallback is None and name not in (C_N_INPUT, C_P_INPUT):
                    raise ConfigError(f"input parameter '{name}' must be a number in cell '{self.cell.name}'")
                value = fallback if fallback is not None else 0.0
            nominal[name] = float(value)
        return nominal

    def _build_model(self) -> pybamm.BaseModel:
        model = MODEL_CLASSES[self.config.model](self.options, build=False)
        if self._consistent_plating:
            plating.use_consistent_plating(model)
        model.build_model()
        self._pybamm_options = model.options
        check_parameters(self.cell, model, inputs=(CURRENT_INPUT, *plating.PARAMETER_NAMES))  # the latter defaulted
        values = self._base_values.copy()
        values.update({name: "[input]" for name in self.input_names[2:]}, check_already_exists=False)

        def current_function(t: pybamm.Symbol) -> pybamm.Symbol:
            return pybamm.InputParameter(CURRENT_START_INPUT) + pybamm.InputParameter(CURRENT_SLOPE_INPUT) * t

        values.update({CURRENT_INPUT: current_function}, check_already_exists=False)
        var_pts = dict(model.default_var_pts)
        var_pts.update(dict(self.config.var_pts))
        sim = pybamm.Simulation(model, parameter_values=values, var_pts=var_pts)
        sim.build(inputs=self.nominal_inputs)
        return sim.built_model

    def _make_functions(self) -> None:
        compiled = compile_model(
            self._built,
            self.input_names,
            rtol=self.config.rtol,
            atol=self.config.atol,
            compile_c=self.config.compile,
            degradation_outputs=self.config.degradation or self.config.loss_of_active_material,
            mechanism_split=self.config.mechanism_split,
            jit_flags=self.config.jit_flags,
        )
        self.compiled = compiled
        self.n_x, self.n_z = compiled.n_x, compiled.n_z
        # The DAE and output expressions stay available (e.g. to build optimal-control problems on the same model).
        self.dae: dict[str, casadi.MX] = compiled.dae
        self.expanded = compiled.expanded
        self.interpolants_as_pchip = set(compiled.interpolants_as_pchip)
        self.output_names = compiled.output_names
        self.quadrature_names = compiled.quadrature_names
        self.mechanism_names = compiled.mechanism_names
        self._integrator, self._fused = compiled.integrator, compiled.fused
        self._y0, self._outputs = compiled.y0_function, compiled.outputs_function
        # Functions built on first use, shared with every twin (see twin()).
        self._shared: dict[str, Any] = {}
        # A step computed ahead by step_limited_many: (start state, limits, dt_s, end state, quadratures).
        self._prefetched: tuple[SimState, Limits, float, SimState, np.ndarray] | None = None

    @property
    def _controlled(self) -> ControlledStep:
        """The limit-controller step (:func:`~eomctl.cell.compiled_model.compile_controller`), built on first use
        (once for a simulator and all its :meth:`twin` s)."""
        if "controlled" not in self._shared:
            cfg = self.config
            temperature = self.differential_state_indices().get("Volume-averaged cell temperature [K]")
            self._shared["controlled"] = compile_controller(
                self.compiled,
                int(temperature[0]) if temperature is not None and len(temperature) == 1 else None,
                rtol=cfg.rtol,
                atol=cfg.atol,
                compile_c=cfg.compile,
                jit_flags=cfg.jit_flags,
            )
        return self._shared["controlled"]  # type: ignore[no-any-return]

    def prepare_limits(self) -> None:
        """Build the limit controller now (a second JIT build, seconds) rather than on the first limited step, so that
        it counts as set-up, not as stepping (what an env in "enforce" mode does at construction)."""
        if self.config.limit_control == "controller":
            _ = self._controlled

    def twin(self) -> CellSimulator:
        """Another cell of the same model: its own state (reset to 10 % SOC), the compiled functions shared.

        Twins cost no build, and :func:`eomctl.cell.batch.step_limited_many` advances any set of twins in one
        compiled call.
        """
        other = copy.copy(self)
        other.reset()
        return other

    def differential_state_indices(self) -> dict[str, np.ndarray]:
        """Indices into the differential state ``x`` of each PyBaMM state variable, keyed by its name."""
        indices: dict[str, np.ndarray] = {}
        for variable, slices in self._built.y_slices.items():
            index = np.concatenate([np.arange(s.start, min(s.stop, self.n_x)) for s in slices])
            indices[variable.name] = index[index < self.n_x]
        return indices

    @property
    def parameter_values(self) -> pybamm.ParameterValues:
        """A copy of the parameter values the model was built from (before inputs replaced any of them)."""
        return self._base_values.copy()

    @property
    def output_function(self) -> casadi.Function:
        """CasADi function ``(x, z, p) -> outputs`` (names in :attr:`output_names`) at a constant current ``-p[0]``."""
        return self._outputs

    # ------------------------------------------------------------------ state
    def stoichiometry_window(self, inputs: Mapping[str, float] | None = None) -> tuple[float, float, float, float]:
        """Negative and positive stoichiometries at 0 % and 100 % SOC, ``(x_0, x_100, y_100, y_0)``.

        Computed by PyBaMM's electrode-state-of-health solve on the cell's parameter values with ``inputs`` applied;
        cached per distinct set of inputs.
        """
        overrides = {k: float(v) for k, v in (inputs or {}).items() if k not in BASE_INPUTS}
        key = tuple(sorted(overrides.items()))
        if key not in self._window_cache:
            values = self._base_values.copy()
            values.update(overrides, check_already_exists=False)
            x0, x100, y100, y0 = pybamm.lithium_ion.get_min_max_stoichiometries(values, options=self._pybamm_options)
            self._window_cache[key] = (float(x0), float(x100), float(y100), float(y0))
        return self._window_cache[key]

    def reset(
        self,
        soc: float = 0.1,
        temperature_k: float | None = None,
        ambient_k: float | None = None,
        inputs: Mapping[str, float] | None = None,
    ) -> StepResult:
        """Return the cell to a uniform, relaxed state at ``soc`` without rebuilding anything.

        Parameters
        ----------
        soc : float
            State of charge in [0, 1], by the negative-electrode stoichiometry window of the fresh cell.
        temperature_k, ambient_k : float, optional
            Initial cell temperature and ambient temperature [K]; default the cell's ambient temperature. The initial
            temperature defaults to the ambient one.
        inputs : mapping, optional
            Values for any ``extra_inputs`` (and overrides of the built-in inputs).
        """
        if not 0.0 <= soc <= 1.0:
            raise ConfigError(f"initial SOC must lie in [0, 1]; got {soc}")
        unknown = set(inputs or {}) - set(self.input_names)
        if unknown:
            raise ConfigError(f"not input parameters of this simulator: {sorted(unknown)}; add them to extra_inputs")
        values = dict(self.nominal_inputs)
        values.update({k: float(v) for k, v in (inputs or {}).items()})
        if ambient_k is not None:
            values[AMBIENT_INPUT] = float(ambient_k)
        values[INITIAL_T_INPUT] = float(temperature_k) if temperature_k is not None else values[AMBIENT_INPUT]
        for name in (AMBIENT_INPUT, INITIAL_T_INPUT):
            if not 150.0 < values[name] < 500.0:
                raise ConfigError(f"{name} = {values[name]} K is not a plausible cell temperature")
        x0, x100, y100, y0 = self.stoichiometry_window(inputs)
        self._window = (x0, x100)
        values[C_N_INPUT] = (x0 + soc * (x100 - x0)) * self._max_concentration("negative")
        values[C_P_INPUT] = (y0 + soc * (y100 - y0)) * self._max_concentration("positive")
        values[CURRENT_START_INPUT] = values[CURRENT_SLOPE_INPUT] = 0.0
        p = np.array([values[n] for n in self.input_names], dtype=float)
        y_init = np.asarray(self._y0(p)).ravel()
        x, z = casadi.DM(y_init[: self.n_x]), casadi.DM(y_init[self.n_x :])
        totals = np.zeros(len(self.quadrature_names))
        self._state = SimState(0.0, x, z, p, totals, self._evaluate_outputs(x, z, p))
        self._limit_memory = self._hold_memory = self._prefetched = None
        self.last = self._result_at(self._state, 0.0, 0.0, np.zeros(len(self.quadrature_names)), "time")
        return self.last

    def _max_concentration(self, electrode: str) -> float:
        name = f"Maximum concentration in {electrode} electrode [mol.m-3]"
        return float(self._base_values[name])

    @property
    def state(self) -> SimState:
        """The current state (immutable; pass it to :meth:`restore`)."""
        return self._state

    def restore(self, state: SimState) -> StepResult:
        """Return exactly to a state saved from :attr:`state`."""
        if state.x.numel() != self.n_x or state.z.numel() != self.n_z:
            raise ConfigError("stored state does not belong to this model (state sizes differ)")
        n_base = len(BASE_INPUTS)
        same = state.inputs is self._state.inputs  # the common case (a state saved from this episode): no comparison
        if not same and not np.array_equal(np.asarray(state.inputs)[n_base:], np.asarray(self._state.inputs)[n_base:]):
            # A state of another cell (other aging inputs, e.g. from another simulator's episode): its SOC is measured
            # on its own stoichiometry window, as at its reset.
            extra = dict(zip(self.input_names[n_base:], np.asarray(state.inputs, dtype=float)[n_base:], strict=True))
            self._window = self.stoichiometry_window(extra)[:2]
        self._state = state
        self._limit_memory = self._hold_memory = self._prefetched = None
        self.last = self._result_at(state, 0.0, 0.0, np.zeros(len(self.quadrature_names)), "time")
        return self.last

    def state_at(self, x: Any, inputs: np.ndarray, time_s: float = 0.0) -> SimState:
        """A state of this model from a differential state ``x`` and an input vector (e.g. a state estimate), with
        zero totals; pass it to :meth:`restore`."""
        x_dm, z = casadi.DM(x), casadi.DM.zeros(self.n_z, 1)
        p = np.asarray(inputs, dtype=float)
        return SimState(time_s, x_dm, z, p, np.zeros(len(self.quadrature_names)), self._evaluate_outputs(x_dm, z, p))

    @property
    def negative_window(self) -> tuple[float, float]:
        """Negative-electrode stoichiometry at 0 % and 100 % SOC of the present episode's cell (its aging inputs)."""
        return self._window

    @property
    def ambient_k(self) -> float:
        """Ambient temperature of the current episode [K]."""
        return float(self._state.inputs[self.input_names.index(AMBIENT_INPUT)])

    # ------------------------------------------------------------------ stepping
    def _integrate(
        self, state: SimState, current_a: float, dt_s: float, slope_a_per_s: float = 0.0
    ) -> tuple[SimState, np.ndarray]:
        """One integrator call: charge at ``current_a + slope * t`` for ``dt_s``; RuntimeError if CVODES/IDAS fails.

        The integrator and the end-state outputs run in one compiled call (:attr:`_fused`), so only a short vector
        (quadratures, outputs, a finiteness check) crosses into NumPy.
        """
        p = state.inputs.copy()
        p[0], p[1] = -current_a, -slope_a_per_s  # PyBaMM: positive current discharges
        # Ctrl-C ends the run after this call (inside it CasADi would report a failed step); a failure is reported by
        # the caller, not by SUNDIALS' dump of the inputs.
        with deferred(), solver_messages_hidden():
            x, z, small = self._fused(state.x, state.z, p.tolist(), dt_s)
        values = np.array(small.nonzeros())
        return self._end_state(state, x, z, values, current_a + slope_a_per_s * dt_s, dt_s)

    def _end_state(
        self, state: SimState, x: casadi.DM, z: casadi.DM, values: np.ndarray, end_current_a: float, dt_s: float
    ) -> tuple[SimState, np.ndarray]:
        """The state after a step from the compiled call's results; RuntimeError if they are not physical.

        ``values`` holds the step's quadratures, the end state's outputs and a finiteness check (the sum of ``x``).
        """
        if not np.all(np.isfinite(values)):
            raise RuntimeError("integrator returned non-finite values")
        n_q = len(self.quadrature_names)
        q = values[:n_q]
        out = dict(zip(self.output_names, values[n_q:-1].tolist(), strict=True))
        if not (out["x_surf_min"] >= 0.0 and out["x_surf_max"] <= 1.0 and 0.0 <= out["y_surf_min"] <= 1.0):
            raise RuntimeError("the state left the physical range (a surface stoichiometry outside [0, 1])")
        if not (out["y_surf_max"] <= 1.0 and 150.0 < out["temperature_k"] < 600.0):
            raise RuntimeError("the state left the physical range (stoichiometry above 1 or temperature implausible)")
        p = state.inputs.copy()
        p[0], p[1] = -end_current_a, 0.0  # the end state's current, as a constant
        return SimState(state.time_s + dt_s, x, z, p, state.totals + q, out), q

    def _integrate_controlled(self, state: SimState, limits: Limits, dt_s: float) -> tuple[SimState, np.ndarray]:
        """One call of the limit-controller step (see :meth:`step_limited`); RuntimeError if IDAS fails."""
        start_a = self._start_current(state, limits)
        with deferred(), solver_messages_hidden():
            x, z, small = self._controlled.step(state.x, casadi.vertcat(state.z, start_a), state.inputs.tolist(),
                                                list(limits), dt_s)  # fmt: skip
        return self._controlled_end(state, x, z, np.array(small.nonzeros()), dt_s)

    def _controlled_or_constant(self, start: SimState, limits: Limits, dt_s: float) -> tuple[SimState, np.ndarray]:
        """A limited step as the controller runs it, in the cheapest call that gives it.

        While no limit binds the controller's current is constant, so when none binds at the start (and the step
        before was not limited: a taper usually goes on), the step is first run at constant current with the cheaper
        ODE integrator; if its end keeps every limit, that is the step (limits move monotonically within a charging
        step). Otherwise the controlled DAE runs the step.
        """
        if self.constant_first(start, self._start_current(start, limits), limits):
            try:
                end, q = self._integrate(start, limits[0], dt_s)
            except RuntimeError:
                pass
            else:
                if self._within(end, limits):
                    return end, q
        return self._integrate_controlled(start, limits, dt_s)

    def constant_first(self, start: SimState, start_a: float, limits: Limits) -> bool:
        """Whether a controlled step from ``start`` is first tried at constant current: no limit binds at the start
        (the controlled start current ``start_a`` is the full current, to within the control equation's rounding
        ``CONTROL_SMOOTHING_A``) and the step before did not end limited (after a limited step the taper usually
        goes on)."""
        tapering = self.last.stop_reason == "limited" and self.last.time_s == start.time_s
        return not tapering and limits[0] > 0 and start_a >= limits[0] - CONTROL_SMOOTHING_A

    @staticmethod
    def _within(state: SimState, limits: Limits) -> bool:
        """Whether a state keeps the voltage, anode-potential and temperature limits (absent ones as NO_LIMIT)."""
        out = state.outputs
        _, v_max, anode_min, t_max = limits
        return out["voltage_v"] <= v_max and out["anode_potential_v"] >= anode_min and out["temperature_k"] <= t_max

    def _start_current(self, state: SimState, limits: Limits) -> float:
        """The controlled current at a step's start, so that IDAS starts from a consistent state.

        The control residual falls as the current rises, is >= 0 at 0 A and <= 0 at ``current_max_a``: the root is
        bracketed (0 A at once when ``current_max_a`` is 0).
        """
        equation, others = self._controlled.equation, state.inputs[2:].tolist()

        def residual(current_a: float) -> float:
            return float(equation(state.x, state.z, others, limits, current_a))

        start_a = limits[0]
        if start_a > 0 and residual(start_a) < 0:
            start_a = scipy.optimize.brentq(residual, 0.0, start_a, xtol=1e-12, rtol=1e-12)
        return start_a

    def controlled_start_current(
        self,
        state: SimState,
        current_max_a: float,
        v_max_v: float | None = None,
        anode_min_v: float | None = None,
        t_max_k: float | None = None,
    ) -> float:
        """The current [A] the limit controller of :meth:`step_limited` starts a step from at ``state``: the request
        ``current_max_a``, or less where a limit binds at that instant (the root of the control equation)."""
        return self._start_current(state, self._limits(current_max_a, v_max_v, anode_min_v, t_max_k))

    def _controlled_end(
        self, state: SimState, x: casadi.DM, z: casadi.DM, values: np.ndarray, dt_s: float
    ) -> tuple[SimState, np.ndarray]:
        z_model = z[: self.n_z] if self.n_z else state.z  # the model's own algebraic states (none for SPM/SPMe)
        return self._end_state(state, x, z_model, values[:-1], float(values[-1]), dt_s)

    def _outputs_of(self, state: SimState) -> dict[str, float]:
        return state.outputs

    def _evaluate_outputs(self, x: casadi.DM, z: casadi.DM, inputs: np.ndarray) -> dict[str, float]:
        values = self._outputs(x, z, inputs.tolist()).nonzeros()
        return dict(zip(self.output_names, values, strict=True))

    def _result_at(
        self, state: SimState, current_a: float, duration_s: float, q: np.ndarray, reason: str
    ) -> StepResult:
        out = self._outputs_of(state)
        x0, x100 = self._window
        n_base = len(QUADRATURES)
        step_q = dict(zip(QUADRATURES, q[:n_base].tolist(), strict=True))
        return StepResult(
            time_s=state.time_s,
            duration_s=duration_s,
            current_a=current_a,
            voltage_v=out["voltage_v"],
            ocv_v=out["ocv_v"],
            temperature_k=out["temperature_k"],
            soc=(out["x_avg"] - x0) / (x100 - x0),
            anode_potential_v=out["anode_potential_v"],
            totals=dict(zip(self.quadrature_names, state.totals.tolist(), strict=True)),
            degradation={k: out[k] for k in DEGRADATION_OUTPUTS if k in out},
            mechanism_entropy_j_per_k=dict(zip(self.mechanism_names, q[n_base:].tolist(), strict=True)),
            stop_reason=reason,
            **step_q,
        )

    def _failed(self) -> StepResult:
        self.last = dataclasses.replace(self.last, stop_reason="solver_failure", duration_s=0.0)
        return self.last

    def _commit(self, end: SimState, q: np.ndarray, current_a: float, duration_s: float, reason: str) -> StepResult:
        self._state = end
        self.last = self._result_at(end, current_a, duration_s, q, reason)
        return self.last

    def _voltage(self, state: SimState) -> float:
        return self._outputs_of(state)["voltage_v"]

    def step(
        self, current_a: float, dt_s: float, v_max_v: float | None = None, v_min_v: float | None = None
    ) -> StepResult:
        """Apply a constant current for ``dt_s`` seconds, stopping early at a voltage cut-off.

        Parameters
        ----------
        current_a : float
            Applied current [A], positive while charging.
        dt_s : float
            Step length [s].
        v_max_v, v_min_v : float, optional
            Voltage cut-offs [V]; default the cell's window. If the end-of-step voltage crosses one, the step is cut at
            the crossing time (found to 0.1 mV) and ``stop_reason`` says which ("v_max" or "v_min").

        Returns
        -------
        StepResult
            The new state and the step's exact integrals. On a solver failure the state is unchanged and
            ``stop_reason == "solver_failure"``: no exception escapes.
        """
        if not dt_s > 0:
            raise ConfigError(f"dt_s must be positive; got {dt_s}")
        v_max = self.cell.v_max_v if v_max_v is None else v_max_v
        v_min = self.cell.v_min_v if v_min_v is None else v_min_v
        state, total_q, elapsed, reason = self._state, None, 0.0, "time"
        long_chunks = self.config.few_calls
        while dt_s - elapsed > 1e-9 and reason == "time":
            remaining_s = dt_s - elapsed
            chunk_s = self._chunk_s(state, current_a, remaining_s) if long_chunks else MAX_CHUNK_S
            # Spread a short tail over the last chunks rather than leave a sliver of a call.
            chunk_s = remaining_s if remaining_s < 1.5 * chunk_s else chunk_s
            try:
                state, q, duration, reason = self._chunk(state, current_a, chunk_s, v_max, v_min)
            except RuntimeError:
                if chunk_s <= MAX_CHUNK_S:
                    return self._failed()
                long_chunks = False  # a long call left the physical range: this step goes on in short ones
                continue
            total_q = q if total_q is None else total_q + q
            elapsed += duration
        assert total_q is not None
        return self._commit(state, total_q, current_a, elapsed, reason)

    def _chunk_s(self, state: SimState, current_a: float, remaining_s: float) -> float:
        """Length of the next integrator call of a constant-current step of ``remaining_s`` seconds.

        Each call restarts the integrator, and a restart costs about as much as 10 s of integration (LG M50 SPMe:
        3 ms for a 1 s call, 5 ms for 30 s, 11 ms for 1500 s), so a long step runs in as few calls as is safe. At
        rest the state cannot leave its physical range: one call. Under current, half the time the current needs to
        carry the cell to the end of its SOC window (but at least ``MAX_CHUNK_S``): long calls far from a cut-off,
        ever shorter ones as it nears, so that a cut-off is still found before the state can leave its physical
        range (and a call that does leave it is run again in ``MAX_CHUNK_S`` calls).
        """
        if current_a == 0.0:
            return remaining_s
        x0, x100 = self._window
        soc = (state.outputs["x_avg"] - x0) / (x100 - x0)
        room = 1.0 - soc if current_a > 0 else soc
        to_bound_s = room * self.cell.capacity_ah * SECONDS_PER_HOUR / abs(current_a)
        return min(remaining_s, max(MAX_CHUNK_S, 0.5 * to_bound_s))

    def _chunk(
        self, start: SimState, current_a: float, dt_s: float, v_max: float, v_min: float
    ) -> tuple[SimState, np.ndarray, float, str]:
        end, q = self._integrate(start, current_a, dt_s)
        voltage = self._voltage(end)
        if v_min - 1e-4 <= voltage <= v_max + 1e-4:
            return end, q, dt_s, "time"
        reason, limit = ("v_max", v_max) if voltage > v_max else ("v_min", v_min)
        f_start = self._voltage(start) - limit
        if f_start * (voltage - limit) >= 0:  # already beyond the limit at the start: a zero-length step
            return start, np.zeros_like(q), 0.0, reason

        def at_time(t_s: float) -> tuple[float, Any]:
            state, quad = self._integrate(start, current_a, t_s)
            return self._voltage(state) - limit, (state, quad, t_s)

        _, (end, q, duration) = illinois(at_time, 0.0, f_start, dt_s, voltage - limit, ftol=1e-4)
        return end, q, duration, reason

    def step_limited(
        self,
        current_max_a: float,
        dt_s: float,
        v_max_v: float | None = None,
        anode_min_v: float | None = None,
        t_max_k: float | None = None,
        tol: float = 2e-4,
    ) -> StepResult:
        """Charge for ``dt_s`` at the largest current up to ``current_max_a`` that keeps every given limit.

        With ``limit_control="controller"`` (the default) the current is the largest up to ``current_max_a`` that keeps
        every limit *at every instant* of the step: constant until a limit is reached, then tapered to hold it (a CV
        phase at ``v_max_v``, an anode potential held at ``anode_min_v``, a temperature approaching ``t_max_k``), in
        one integrator call. ``current_a`` of the result is then the current at the step's end. If that call fails,
        the step is run by the search below.

        With ``limit_control="search"`` this is how a BMS enforces a limit in discrete time: if charging at
        ``current_max_a`` would end the step above ``v_max_v`` (or below ``anode_min_v``, or above ``t_max_k``), the
        constant current is lowered until the most violated limit holds with equality at the step end (to ``tol``, in V
        or K). Voltage, anode potential and temperature move monotonically with current over a step, so the root is
        bracketed by 0 A and ``current_max_a``. If even 0 A violates a limit (a cell hotter than ``t_max_k``), the cell
        rests. ``stop_reason`` is "limited" when the current was lowered.
        """
        start = self._state
        if self.config.limit_control == "controller":
            limits = self._limits(current_max_a, v_max_v, anode_min_v, t_max_k)
            prefetched, self._prefetched = self._prefetched, None
            try:
                if prefetched is not None and prefetched[0] is start and prefetched[1:3] == (limits, dt_s):
                    end, q = prefetched[3:]
                else:
                    end, q = self._controlled_or_constant(start, limits, dt_s)
            except RuntimeError:
                pass  # the constant-current search below may still integrate where the controlled DAE did not
            else:
                current = -float(end.inputs[0])
                return self._commit(end, q, current, dt_s, "limited" if current < current_max_a - 1e-6 else "time")

        def violation(state: SimState) -> float:
            out = self._outputs_of(state)
            terms = [-1.0]
            if v_max_v is not None:
                terms.append(out["voltage_v"] - v_max_v)
            if anode_min_v is not None:
                terms.append(anode_min_v - out["anode_potential_v"])
            if t_max_k is not None:
                terms.append(out["temperature_k"] - t_max_k)
            return max(terms)

        def at_current(current_a: float) -> tuple[float, Any]:
            try:
                state, quad = self._integrate(start, current_a, dt_s)
            except RuntimeError:
                # Too much current for the model to integrate (e.g. electrolyte depletion at 3C): as good as a
                # violated limit for the search; a moderate stand-in value keeps regula falsi well conditioned.
                return FAILED_TRIAL_VIOLATION, None
            return violation(state), (state, quad, current_a)

        try:
            found = self._search_current(at_current, current_max_a, tol)
        except RuntimeError:
            return self._failed()
        if found is None:
            return self._failed()
        end, q, current = found
        return self._commit(end, q, current, dt_s, "time" if current == current_max_a else "limited")

    @staticmethod
    def _limits(
        current_max_a: float, v_max_v: float | None, anode_min_v: float | None, t_max_k: float | None
    ) -> Limits:
        given = {"v_max_v": v_max_v, "anode_min_v": anode_min_v, "t_max_k": t_max_k}
        v_max, anode_min, t_max = (NO_LIMIT[k] if v is None else float(v) for k, v in given.items())
        return (max(float(current_max_a), 0.0), v_max, anode_min, t_max)

    def charge_until(
        self,
        current_max_a: float,
        max_s: float,
        *,
        v_max_v: float | None = None,
        anode_min_v: float | None = None,
        t_max_k: float | None = None,
        cutoff_a: float = 0.0,
        target_soc: float | None = None,
    ) -> StepResult:
        """A whole controlled charge phase: the current of :meth:`step_limited`'s controller (constant at
        ``current_max_a`` until a limit binds, then the taper that holds it), until the current falls to ``cutoff_a``
        (``stop_reason`` "cutoff"), the SOC reaches ``target_soc`` ("soc") or ``max_s`` seconds have passed ("time").

        A CC-CV charge is ``charge_until(I, T, v_max_v=V, cutoff_a=I_cut)``. The end condition is the zero of the
        progress ``min(log(I / I_cut), k (target - SOC))``, which falls about linearly in time (SOC under constant
        current, ``log(I)`` in a CV phase's exponential decay). The phase runs in calls of up to ``MAX_PHASE_CHUNK_S``,
        each aimed just past the end predicted from the last call's rate of progress (without a voltage limit, also at
        most half the time the current needs to fill the SOC window), and the end is found within the last call by
        regula falsi: about ten calls for a 1C CC-CV charge, where constant-current steps and voltage-hold intervals
        need about forty. Needs ``limit_control="controller"``.
        """
        if self.config.limit_control != "controller":
            raise ConfigError("charge_until needs limit_control='controller'")
        limits = self._limits(current_max_a, v_max_v, anode_min_v, t_max_k)
        soc_goal = math.inf if target_soc is None else target_soc

        def progress(state: SimState, current_a: float | None = None) -> float:
            """Positive before the end condition, zero at it, negative past it (decreasing through a phase)."""
            current_a = -float(state.inputs[0]) if current_a is None else current_a
            # The cut-off ends a CV phase: it counts only while the voltage limit holds the current. A current held
            # below it by another limit (a cell at its temperature limit gets 0 A) is not the end of a charge.
            # (Kept finite and positive off the voltage limit, so that the root search keeps its bracket.)
            by_current = math.log(max(current_a, 1e-12) / cutoff_a) if cutoff_a > 0 else math.inf
            if state.outputs["voltage_v"] < limits[1] - CV_REACHED_V:
                by_current = max(by_current, 10 * PHASE_FTOL)
            return min(by_current, SOC_PROGRESS_SCALE * (soc_goal - self._soc(state)))

        state, total_q, elapsed = self._state, np.zeros(len(self.quadrature_names)), 0.0
        f_start = progress(state, limits[0])  # the phase starts at full current unless a limit binds at once
        if f_start <= 0:
            return self._commit(state, total_q, -float(state.inputs[0]), 0.0, self._end_reason(state, cutoff_a))
        chunk_s, rate_per_s = MAX_PHASE_CHUNK_S, 0.0
        no_anode_limit = limits[2] <= NO_LIMIT["anode_min_v"]
        if no_anode_limit and self.constant_first(state, self._start_current(state, limits), limits):
            # Constant current until a limit binds: CVODES calls of a constant-current step, which cost less than the
            # controlled DAE's; the controller takes over from the last call that ended inside every limit. Only
            # without an anode-potential limit: under a constant current in the cold the anode potential dips and
            # recovers as the cell warms, so a long call can end inside that limit having crossed it.
            while max_s - elapsed > 1e-9:
                length_s = self._chunk_s(state, limits[0], max_s - elapsed)
                if rate_per_s > 0:
                    length_s = min(length_s, max(MAX_CHUNK_S, PHASE_AIM * f_start / rate_per_s))
                try:
                    end, q = self._integrate(state, limits[0], length_s)
                except RuntimeError:
                    break
                f_end = progress(end, limits[0])
                if not self._within(end, limits):
                    break
                if f_end <= 0:  # the end came before any limit: found on constant-current calls (SOC linear in time)
                    origin, current_a = state, limits[0]

                    def at_length(d_s: float, origin: SimState = origin, amps: float = current_a) -> tuple[float, Any]:
                        trial, trial_q = self._integrate(origin, amps, d_s)
                        return progress(trial, amps), (trial, trial_q, d_s)

                    try:
                        _, (end, q, length_s) = illinois(at_length, 0.0, f_start, length_s, f_end, ftol=PHASE_FTOL)
                    except RuntimeError:
                        break
                    total_q, elapsed = total_q + q, elapsed + length_s
                    return self._commit(end, total_q, current_a, elapsed, self._end_reason(end, cutoff_a))
                rate_per_s = (f_start - f_end) / length_s
                state, total_q, elapsed, f_start = end, total_q + q, elapsed + length_s, f_end
        while max_s - elapsed > 1e-9:
            length_s = min(max_s - elapsed, chunk_s)
            if rate_per_s > 0:
                # Aim just past the predicted end: the progress falls about linearly in time (SOC under a constant
                # current, log(I) in a CV phase's exponential decay), so the root search starts from a tight bracket.
                length_s = min(length_s, max(MAX_CHUNK_S, PHASE_AIM * f_start / rate_per_s))
            if limits[1] >= NO_LIMIT["v_max_v"]:
                # No voltage limit to stop a full cell: approach the end of the SOC window as a CC step does.
                room = 1.0 - self._soc(state)
                fill_s = room * self.cell.capacity_ah * SECONDS_PER_HOUR / max(limits[0], 1e-9)
                length_s = min(length_s, max(MAX_CHUNK_S, 0.5 * fill_s))
            try:
                end, q = self._integrate_controlled(state, limits, length_s)
            except RuntimeError:
                if length_s > STEPPED_FALLBACK_S:
                    chunk_s = 0.25 * length_s  # a long call left the physical range: shorter ones from here
                    continue
                # Short controlled calls fail too (IDAS near the onset of the temperature limit): the rest of the
                # phase in limited steps, which fall back on the constant-current search as the env's steps do.
                self._commit(state, total_q, -float(state.inputs[0]), elapsed, "time")
                return self._stepped_phase(limits, max_s - elapsed, cutoff_a, soc_goal, state.time_s - elapsed)
            f_end = progress(end)
            if f_end > 0:
                rate_per_s = (f_start - f_end) / length_s
                state, total_q, elapsed, f_start = end, total_q + q, elapsed + length_s, f_end
                continue
            origin = state

            def at_duration(d_s: float, origin: SimState = origin) -> tuple[float, Any]:
                trial, trial_q = self._integrate_controlled(origin, limits, d_s)
                return progress(trial), (trial, trial_q, d_s)

            try:
                _, (end, q, length_s) = illinois(at_duration, 0.0, f_start, length_s, f_end, ftol=PHASE_FTOL)
            except RuntimeError:
                return self._failed()
            state, total_q, elapsed = end, total_q + q, elapsed + length_s
            return self._commit(state, total_q, -float(state.inputs[0]), elapsed, self._end_reason(state, cutoff_a))
        return self._commit(state, total_q, -float(state.inputs[0]), elapsed, "time")

    def irreversible_loss(self, relax_s: float = RELAXATION_S) -> IrreversibleLoss:
        """Split the lithium inventory lost so far (LLI) into what a rest would give back and what is lost for good.

        Plated lithium is partly reversible: at open circuit the anode potential rises above 0 V vs Li/Li+ and plated
        lithium strips back into the graphite (the rest that follows any real charge), while some of it turns into
        dead lithium. The irreversible loss is LLI now minus the plated lithium that strips back during an
        open-circuit rest of ``relax_s`` seconds from the present state: SEI, dead lithium and the plated lithium
        still left after the rest. The rest is integrated from a copy of the state (the simulator does not move);
        the SEI the rest itself grows is not counted (it belongs to the rest, not to what came before). NaN if the
        model has no degradation outputs or the rest cannot be integrated.
        """
        out = self._state.outputs
        lli_pct = out.get("lli_pct", math.nan)
        if "plating_ah" not in out or not math.isfinite(lli_pct):
            return IrreversibleLoss(lli_pct, math.nan, math.nan, relax_s)
        try:
            rested, _ = self._integrate(self._state, 0.0, relax_s)
        except RuntimeError:
            return IrreversibleLoss(lli_pct, math.nan, math.nan, relax_s)
        recovered_ah = max(out["plating_ah"] - rested.outputs["plating_ah"], 0.0)
        # LLI [%] is relative to the cyclable lithium the particles held at the start of the cell's history.
        lithium_0_ah = out["li_particles_ah"] / (1.0 - lli_pct / 100.0)
        irreversible_pct = lli_pct - 100.0 * recovered_ah / lithium_0_ah
        return IrreversibleLoss(lli_pct, irreversible_pct, recovered_ah, relax_s)

    def _stepped_phase(
        self, limits: Limits, max_s: float, cutoff_a: float, soc_goal: float, phase_start_s: float
    ) -> StepResult:
        """The rest of a controlled phase (:meth:`charge_until`) in :meth:`step_limited` steps of
        ``STEPPED_FALLBACK_S``, until the current falls to ``cutoff_a`` (recognised at a step's end, as the env does),
        the SOC reaches ``soc_goal`` (the step that passes it is run again, shortened to where the SOC, about linear
        in time within a step, reaches it) or ``max_s`` has passed. The result's ``duration_s`` runs from
        ``phase_start_s``, the start of the whole phase."""
        current_max_a = limits[0]
        v_max, anode_min, t_max = (None if v == NO_LIMIT[k] else v for k, v in zip(NO_LIMIT, limits[1:], strict=True))

        def step(dt_s: float) -> StepResult:
            return self.step_limited(current_max_a, dt_s, v_max_v=v_max, anode_min_v=anode_min, t_max_k=t_max)

        elapsed, reason = 0.0, "time"
        while max_s - elapsed > 1e-9:
            before, saved = self.last, self.state
            taken = step(min(STEPPED_FALLBACK_S, max_s - elapsed))
            if taken.solver_failed:
                return taken
            if taken.soc >= soc_goal and taken.soc > before.soc:
                self.restore(saved)
                fraction = (soc_goal - before.soc) / (taken.soc - before.soc)
                taken = step(max(fraction * taken.duration_s, 1e-3))
                if taken.solver_failed:
                    return taken
                elapsed += taken.duration_s
                reason = "soc"
                break
            elapsed += taken.duration_s
            if cutoff_a > 0 and taken.current_a <= cutoff_a and taken.voltage_v >= limits[1] - CV_REACHED_V:
                reason = "cutoff"
                break
        end = self.last
        return dataclasses.replace(end, duration_s=end.time_s - phase_start_s, stop_reason=reason)

    def _soc(self, state: SimState) -> float:
        x0, x100 = self._window
        return (state.outputs["x_avg"] - x0) / (x100 - x0)

    @staticmethod
    def _end_reason(state: SimState, cutoff_a: float) -> str:
        # The end is found to |progress| < PHASE_FTOL, i.e. the current to within a factor exp(PHASE_FTOL) of cutoff_a.
        return "cutoff" if cutoff_a > 0 and -float(state.inputs[0]) <= cutoff_a * math.exp(PHASE_FTOL) else "soc"

    def _search_current(self, at_current: Any, current_max_a: float, tol: float) -> Any:
        """Largest feasible current in [0, current_max_a], started from the last limited step's current and slope.

        In a taper the limited current drifts slowly from step to step and the step-end violation is close to linear
        in the current, so a secant prediction from the remembered current and slope usually lands inside the
        tolerance band in one or two integrator calls (instead of trying full current, 0 A and regula falsi). Any
        doubt (no sign change, a failed trial) falls back to a bracketed Illinois search.
        """
        trials: list[tuple[float, float]] = []

        def recorded(current_a: float) -> tuple[float, Any]:
            f, payload = at_current(current_a)
            if payload is not None:
                trials.append((current_a, f))
            return f, payload

        memory = self._limit_memory
        found = None
        if memory is not None and 0.0 < memory[0] < current_max_a:
            found = predicted_search(recorded, current_max_a, tol, *memory)
        if found is None:
            found = bracketed_search(recorded, current_max_a, tol)
        if found is not None and found[2] < current_max_a:
            self._limit_memory = next_limit_memory(found[2], trials, memory) or memory
        return found

    def _predicted_hold(
        self, at_slope: Any, voltage_v: float, dt_s: float, s_lo: float, s_hi: float, i0: float
    ) -> tuple[SimState, np.ndarray, float, float] | None:
        """Secant steps for a hold interval's current slope, from the last interval's decay; None: not settled.

        In a CV phase the current decays smoothly, so the slope per ampere of the last interval is a close first
        guess and the end voltage is nearly linear in the slope (its derivative is about an effective resistance
        times the interval): one to three integrator calls where a fresh bracket takes five or six.
        """
        memory = self._hold_memory
        if not self.config.few_calls or memory is None or memory[0] != voltage_v or i0 <= 0:
            return None
        _, rate_per_s, resistance_ohm = memory
        slope = min(max(rate_per_s * i0, s_lo), s_hi)
        dfds = resistance_ohm * dt_s
        f, payload = at_slope(slope)
        for _ in range(4):
            if abs(f) < 1e-5:
                self._hold_memory = (voltage_v, slope / i0, dfds / dt_s)
                return payload  # type: ignore[no-any-return]
            if not dfds > 0:
                return None
            new = min(max(slope - f / dfds, s_lo), s_hi)
            if new == slope:  # pinned at a bound: the bracketed path decides
                return None
            f_new, payload = at_slope(new)
            if f_new != f:
                dfds = (f_new - f) / (new - slope)
            slope, f = new, f_new
        return None

    def hold_voltage(
        self, voltage_v: float, dt_s: float, current_max_a: float, cutoff_a: float = 0.0, fresh: bool = False
    ) -> StepResult:
        """One interval of constant-voltage charging.

        The current ramps linearly from its present value so that the voltage is ``voltage_v`` at the interval's end
        (continuous current; a CV phase is then exact to second order in the interval). If the current would fall below
        ``cutoff_a``, the interval is shortened to end exactly where the current reaches it (``stop_reason`` "cutoff").
        ``fresh`` starts the search without the last interval's decay (the first interval of a hold: what follows then
        depends on this hold alone, so a run resumed from a checkpoint repeats it exactly).
        """
        if fresh:
            self._hold_memory = None
        start = self._state
        i0 = min(max(self.last.current_a, 0.0), current_max_a)

        def at_slope(slope: float, duration_s: float = dt_s) -> tuple[float, Any]:
            state, quad = self._integrate(start, i0, duration_s, slope)
            return self._voltage(state) - voltage_v, (state, quad, i0 + slope * duration_s, duration_s)

        try:
            s_lo, s_hi = -i0 / dt_s, (current_max_a - i0) / dt_s
            predicted = self._predicted_hold(at_slope, voltage_v, dt_s, s_lo, s_hi, i0)
            if predicted is not None:
                end, q, current, duration = predicted
            else:
                f_lo, _ = at_slope(s_lo)
                f_hi, high = at_slope(s_hi)
                if f_lo >= 0:  # even ramping down to 0 A overshoots: the constant-current search finds a lower current
                    return self.step_limited(current_max_a, dt_s, v_max_v=voltage_v)
                if f_hi <= 0:  # current-limited: the voltage stays below the hold value
                    end, q, current, duration = high
                else:
                    slope, (end, q, current, duration) = illinois(at_slope, s_lo, f_lo, s_hi, f_hi, ftol=1e-5)
                    if i0 > 0:  # the chord's slope seeds the next interval's secant steps
                        chord = (f_hi - f_lo) / (s_hi - s_lo) / dt_s
                        self._hold_memory = (voltage_v, slope / i0, chord)
            if current >= cutoff_a or cutoff_a <= 0:
                return self._commit(end, q, current, duration, "time")

            def at_duration(d_s: float) -> tuple[float, Any]:
                return at_slope((cutoff_a - i0) / d_s, d_s)

            d_lo = 1e-3 * dt_s
            g_lo, _ = at_duration(d_lo)
            g_hi, _ = at_duration(dt_s)
            if g_lo >= 0 or g_hi <= 0:  # no interior crossing (already at the cut-off): stop here
                return self._commit(start, np.zeros_like(q), i0, 0.0, "cutoff")
            _, (end, q, current, duration) = illinois(at_duration, d_lo, g_lo, dt_s, g_hi, ftol=1e-5)
        except RuntimeError:
            return self._failed()
        return self._commit(end, q, current, duration, "cutoff")
