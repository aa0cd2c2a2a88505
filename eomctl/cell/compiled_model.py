"""Compile a discretised PyBaMM model into CasADi functions: one step integrator, its outputs and initial state.

PyBaMM's expression trees (right-hand side, algebraic equations, initial conditions, output variables) are converted
to CasADi once. The integrator runs over a normalised step ``tau in [0, 1]`` whose length ``dt_s`` is the last
parameter, so one object serves every step length; entropy production ``I_ch (V - U_bulk) / T`` (Bernardi et al.,
J. Electrochem. Soc. 132 (1985) 5), energy, free energy, irreversible heat and charge are its quadratures. A fused
function integrates and evaluates the end state's outputs in one compiled call.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import casadi
import pybamm

from eomctl.core.constants import SECONDS_PER_HOUR
from eomctl.core.interrupts import deferred

#: C compiler flags of the JIT build. Measured side by side (``benchmarks/bench_jit_flags.py``, LG M50 SPMe + SEI +
#: plating, 80 random 30 s steps, quiet 2-core machine): -O2 0.93x and -O3 -march=native 1.00x the speed of -O1, with
#: 1.4x and 2.5x its build time.
JIT_FLAGS = ("-O1",)

CURRENT_INPUT = "Current function [A]"
CURRENT_START_INPUT = "Step start current [A]"
CURRENT_SLOPE_INPUT = "Step current slope [A.s-1]"
AMBIENT_INPUT = "Ambient temperature [K]"
INITIAL_T_INPUT = "Initial temperature [K]"
C_N_INPUT = "Initial concentration in negative electrode [mol.m-3]"
C_P_INPUT = "Initial concentration in positive electrode [mol.m-3]"
# The applied current within a step is I(t) = I_start + slope * t (t from the step start): constant for ordinary
# steps, a ramp for voltage holds, so the current stays continuous through a CV phase.
BASE_INPUTS = (CURRENT_START_INPUT, CURRENT_SLOPE_INPUT, AMBIENT_INPUT, INITIAL_T_INPUT, C_N_INPUT, C_P_INPUT)

# Quadratures integrated over every step, in this order (units of the integral in brackets).
QUADRATURES = (
    "entropy_j_per_k",  # Sigma = int I_ch (V - U_bulk) / T dt   [J/K]
    "energy_in_j",  # E_in = int I_ch V dt                   [J]
    "free_energy_j",  # DeltaG = int I_ch U_bulk dt          [J]
    "heat_irr_j",  # Q_irr = int I_ch (V - U_bulk) dt        [J]
    "t_weighted_entropy_j",  # int T dSigma (equals Q_irr by construction; kept separate for the balance report) [J]
    "charge_in_ah",  # int I_ch dt / 3600                      [A.h]
)

# Per-mechanism overpotentials whose sum is V - U_bulk (docs/physics.md §1).
MECHANISM_VARIABLES = {
    "reaction": "X-averaged battery reaction overpotential [V]",
    "particle_diffusion": "Battery particle concentration overpotential [V]",
    "electrolyte_concentration": "X-averaged battery concentration overpotential [V]",
    "electrolyte_ohmic": "X-averaged battery electrolyte ohmic losses [V]",
    "solid_ohmic": "X-averaged battery solid phase ohmic losses [V]",
}

# Scalar outputs read at the end of every step: eomctl name -> PyBaMM variable.
CORE_OUTPUTS = {
    "voltage_v": "Voltage [V]",
    "ocv_v": "Bulk open-circuit voltage [V]",
    "temperature_k": "Volume-averaged cell temperature [K]",
    "x_avg": "Average negative particle stoichiometry",
    # phi_s - phi_e at the negative electrode / separator interface: lithium plates where this is below 0 V vs Li/Li+.
    "anode_potential_v": "Negative electrode surface potential difference at separator interface [V]",
    # Bounds of the surface stoichiometries: a state outside [0, 1] is unphysical even if the integrator accepted it.
    "x_surf_min": "Minimum negative particle surface stoichiometry",
    "x_surf_max": "Maximum negative particle surface stoichiometry",
    "y_surf_min": "Minimum positive particle surface stoichiometry",
    "y_surf_max": "Maximum positive particle surface stoichiometry",
}
DEGRADATION_OUTPUTS = {
    "lli_pct": "Loss of lithium inventory [%]",
    "sei_ah": "Loss of capacity to negative SEI [A.h]",
    "plating_ah": "Loss of capacity to negative lithium plating [A.h]",
    "lam_neg_pct": "Loss of active material in negative electrode [%]",
    "lam_pos_pct": "Loss of active material in positive electrode [%]",
}
#: Read with the degradation outputs but not reported as degradation: the cyclable lithium left in the particles, from
#: which LLI [%] converts to A.h (:meth:`~eomctl.cell.simulator.CellSimulator.irreversible_loss`).
INVENTORY_OUTPUTS = {"li_particles_ah": "Total lithium capacity in particles [A.h]"}


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """The CasADi functions of one discretised model (see :func:`compile_model`)."""

    n_x: int
    n_z: int
    dae: dict[str, casadi.MX]
    integrator: casadi.Function
    fused: casadi.Function
    y0_function: casadi.Function
    outputs_function: casadi.Function
    output_names: tuple[str, ...]
    quadrature_names: tuple[str, ...]
    mechanism_names: tuple[str, ...]
    interpolants_as_pchip: frozenset[str]
    expanded: bool


def _expand(function: casadi.Function) -> casadi.Function:
    """An SX copy of ``function`` (faster to evaluate) where CasADi can make one, else ``function`` itself."""
    try:
        return function.expand()
    except RuntimeError:
        return function


@contextlib.contextmanager
def _working_directory(path: str | None) -> Iterator[None]:
    """Run the block in ``path`` (no change when None)."""
    if path is None:
        yield
        return
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _compiler_available() -> bool:
    return shutil.which("gcc") is not None or shutil.which("cc") is not None


def compile_model(
    built: pybamm.BaseModel,
    input_names: Sequence[str],
    *,
    rtol: float,
    atol: float,
    compile_c: bool | None,
    degradation_outputs: bool,
    mechanism_split: bool,
    jit_flags: Sequence[str] = JIT_FLAGS,
) -> CompiledModel:
    """Convert a built (processed and discretised) PyBaMM model into a :class:`CompiledModel`.

    Parameters
    ----------
    built : pybamm.BaseModel
        The model after ``pybamm.Simulation.build``; its input parameters are ``input_names`` in that order.
    input_names : sequence of str
        Input parameters, the first two being the step start current and slope (PyBaMM sign: positive discharges).
    rtol, atol : float
        CVODES/IDAS tolerances.
    compile_c : bool or None
        JIT-compile with the system C compiler (None: when one is found).
    degradation_outputs, mechanism_split : bool
        Also output the degradation variables; also integrate the per-mechanism entropy production.
    jit_flags : sequence of str
        C compiler flags of the JIT build.
    """
    sym = _Symbols(built, input_names)
    outputs = dict(CORE_OUTPUTS) | (DEGRADATION_OUTPUTS | INVENTORY_OUTPUTS if degradation_outputs else {})
    out_exprs = [sym.variable(v) for v in outputs.values()]
    mechanism_names = tuple(MECHANISM_VARIABLES) if mechanism_split else ()
    quad = _quadratures(sym, out_exprs, mechanism_names)
    # Normalised time: tau in [0, 1], physical t = tau * dt_s, so one integrator serves every step length.
    tau, dt = casadi.MX.sym("tau"), casadi.MX.sym("dt_s")
    scaled_rhs, scaled_quad = casadi.substitute([sym.rhs * dt, quad * dt], [sym.t], [tau * dt])
    dae: dict[str, casadi.MX] = {"t": tau, "x": sym.x, "p": casadi.vertcat(sym.p, dt), "ode": scaled_rhs,
                                 "quad": scaled_quad}  # fmt: skip
    if sym.alg is not None:
        dae["z"], dae["alg"] = sym.z, casadi.substitute(sym.alg, sym.t, tau * dt)
    use_jit = _compiler_available() if compile_c is None else compile_c
    jit_dir = tempfile.mkdtemp(prefix="eomctl_jit_") if use_jit else None
    try:
        with deferred():  # a Ctrl-C during the build would otherwise read as "cannot expand" and start a second one
            options = _integrator_options(rtol, atol, sym.n_z, jit_dir, jit_flags)
            integrator, expanded = _integrator(dae, options, sym.n_z, jit_dir)
    finally:
        # The shared object is loaded by now and nothing reads the folder again (steps, limit searches and voltage
        # holds run with it removed): no temporary files outlive the build, whether it succeeded, failed or was
        # interrupted.
        if jit_dir is not None:
            shutil.rmtree(jit_dir, ignore_errors=True)
    # Outputs are read at a step's end from inputs re-expressed as a constant current (see _integrate), so t = 0.
    outputs_expr = casadi.substitute(casadi.vertcat(*out_exprs), sym.t, 0.0)
    outputs_function = _expand(casadi.Function("outputs", [sym.x, sym.z, sym.p], [outputs_expr]))
    compiled = CompiledModel(
        n_x=sym.n_x,
        n_z=sym.n_z,
        dae=dict(dae),
        integrator=integrator,
        fused=_fused_step(integrator, outputs_function, sym),
        y0_function=_expand(casadi.Function("y0", [sym.p], [casadi.substitute(sym.y0, sym.t, 0.0)])),
        outputs_function=outputs_function,
        output_names=tuple(outputs),
        quadrature_names=QUADRATURES + tuple(f"mechanism_{m}" for m in mechanism_names),
        mechanism_names=mechanism_names,
        interpolants_as_pchip=frozenset(sym.as_pchip),
        expanded=expanded,
    )
    return compiled


class _Symbols:
    """The CasADi symbols of a built PyBaMM model: time, states, inputs, and its equations converted once."""

    def __init__(self, built: pybamm.BaseModel, input_names: Sequence[str]) -> None:
        self.built = built
        self.n_x, self.n_z = int(built.len_rhs), int(built.len_alg)
        self.t = casadi.MX.sym("t")
        self.x = casadi.MX.sym("x", self.n_x)
        self.z = casadi.MX.sym("z", self.n_z)
        self.y = casadi.vertcat(self.x, self.z)
        self.p_syms = {name: casadi.MX.sym(name) for name in input_names}
        self.p = casadi.vertcat(*self.p_syms.values())
        self.cache: dict[Any, Any] = {}
        self.as_pchip: set[str] = set()
        self.rhs = self.convert(built.concatenated_rhs)
        self.alg = self.convert(built.concatenated_algebraic) if self.n_z else None
        self.y0 = self.convert(built.concatenated_initial_conditions)

    def convert(self, symbol: pybamm.Symbol) -> casadi.MX:
        """A PyBaMM expression as CasADi (shared sub-expressions converted once)."""
        # CasADi 3.8's B-spline (PyBaMM's "cubic" data interpolant, e.g. OKane2022's graphite OCP) fails under
        # differentiation; PyBaMM's "pchip" conversion is an explicit C1 piecewise cubic through the same points.
        for node in symbol.pre_order():
            if isinstance(node, pybamm.Interpolant) and node.interpolator == "cubic" and node.dimension == 1:
                node.interpolator = "pchip"
                self.as_pchip.add(node.name)
        return symbol.to_casadi(self.t, self.y, inputs=self.p_syms, casadi_symbols=self.cache)

    def variable(self, name: str) -> casadi.MX:
        """A model variable by name, as CasADi."""
        return self.convert(self.built.get_processed_variable(name))


def _quadratures(sym: _Symbols, out_exprs: Sequence[casadi.MX], mechanism_names: Sequence[str]) -> casadi.MX:
    """The integrands of :data:`QUADRATURES` (Bernardi entropy rate ``I (V - U) / T`` first), then one entropy rate per
    overpotential mechanism."""
    voltage, ocv, temperature = out_exprs[0], out_exprs[1], out_exprs[2]
    current_ch = -sym.variable("Current [A]")
    loss = voltage - ocv
    quads = [
        current_ch * loss / temperature,
        current_ch * voltage,
        current_ch * ocv,
        current_ch * loss,
        current_ch * loss,
        current_ch / SECONDS_PER_HOUR,
    ]
    quads += [current_ch * sym.variable(MECHANISM_VARIABLES[m]) / temperature for m in mechanism_names]
    return casadi.vertcat(*quads)


def _integrator_options(
    rtol: float, atol: float, n_z: int, jit_dir: str | None, jit_flags: Sequence[str] = JIT_FLAGS
) -> dict[str, Any]:
    """CVODES/IDAS options; with ``jit_dir``, JIT-compiled C built in that folder."""
    # Trial currents of a limit search may drive the model out of range; those failures are handled, not printed.
    options: dict[str, Any] = {"abstol": atol, "reltol": rtol, "expand": True, "show_eval_warnings": False}
    if n_z:
        options["linear_solver"] = "csparse"
    if jit_dir is not None:
        # CasADi writes the generated C and the shared object into this folder (not the working directory).
        # compile_model removes the folder as soon as the integrator is built; CasADi's own clean-up would then print
        # "Failed to remove ..." warnings, so it is off.
        jit_options = {"flags": list(jit_flags), "verbose": False, "directory": jit_dir, "cleanup": False}
        options.update(jit=True, compiler="shell", jit_options=jit_options, jit_name="eomctl_jit", jit_cleanup=False)
    return options


def _integrator(
    dae: dict[str, casadi.MX], options: dict[str, Any], n_z: int, jit_dir: str | None, name: str = "eomctl_step"
) -> tuple[casadi.Function, bool]:
    """The step integrator over tau in [0, 1], and whether its graph was expanded to SX."""
    plugin = "idas" if n_z else "cvodes"
    # Some of CasADi's generated sources ignore the "directory" option: build inside the JIT folder.
    with _working_directory(jit_dir):
        try:
            return casadi.integrator(name, plugin, dae, 0.0, 1.0, options), True
        except RuntimeError:
            # Data interpolants (B-splines) cannot be expanded to SX: keep the MX graph.
            options = {**options, "expand": False}
            return casadi.integrator(name, plugin, dae, 0.0, 1.0, options), False


def _fused_step(integrator: casadi.Function, outputs_function: casadi.Function, sym: _Symbols) -> casadi.Function:
    """One call that integrates a step and evaluates the end state's outputs (inputs re-expressed as a constant
    current): ``step(x, z, p, dt) -> (x_end, z_end, [quadratures, outputs, sum(x_end)])``."""
    n_x, n_z = sym.n_x, sym.n_z
    x_in, z_in = casadi.MX.sym("x_in", n_x), casadi.MX.sym("z_in", n_z)
    p_in, dt_in = casadi.MX.sym("p_in", sym.p.numel()), casadi.MX.sym("dt_in")
    call: dict[str, casadi.MX] = {"x0": x_in, "p": casadi.vertcat(p_in, dt_in)}
    if n_z:
        call["z0"] = z_in
    sol = integrator(**call)
    z_end = sol["zf"] if n_z else z_in
    p_end = casadi.vertcat(p_in[0] + p_in[1] * dt_in, 0.0, p_in[2:])
    small = casadi.vertcat(sol["qf"], outputs_function(sol["xf"], z_end, p_end), casadi.sum1(sol["xf"]))
    return casadi.Function("step", [x_in, z_in, p_in, dt_in], [sol["xf"], z_end, small])


# ---------------------------------------------------------------------------------------------------- limit controller
#: Limits of a controlled charge, the last inputs of :func:`compile_controller`'s step before ``dt_s``, in this order.
CONTROL_LIMITS = ("current_max_a", "v_max_v", "anode_min_v", "t_max_k")
#: Stand-ins for an absent limit: far outside anything a cell reaches, so that limit never binds.
NO_LIMIT = {"v_max_v": 1e3, "anode_min_v": -1e3, "t_max_k": 1e4}
#: Amperes of headroom per volt of voltage margin, per volt of anode-potential margin, and per K/s of heating-rate
#: margin. Only which margin is smallest matters (the current is the largest that keeps all of them >= 0), so these
#: set how the limits compare near a tie; they are of the order of dI/dV (1 / 30 mOhm, 1 / 10 mOhm) and dI/d(dT/dt).
CONTROL_GAINS = (30.0, 100.0, 100.0)
#: Rate [1/s] at which the temperature may approach its limit: the heating rate is held at or below
#: ``T_RATE_PER_S * (t_max - T)``, so T reaches t_max exponentially and never crosses it (with no upper bound it would
#: need the current to jump when T arrives, an index-2 condition the DAE solver cannot hold).
T_RATE_PER_S = 0.1
#: Width [A] over which the min/max of the control equation are rounded off (see _smooth_min).
CONTROL_SMOOTHING_A = 1e-3


def _smooth_min(a: casadi.MX, b: casadi.MX) -> casadi.MX:
    """min(a, b) rounded off within ~CONTROL_SMOOTHING_A of a tie (below it by at most half that).

    Where two limits swap (a CC phase meeting its voltage limit, the anode limit handing over to the temperature
    limit) the exact min has a kink; IDAS's Newton iteration then failed to converge now and then (random current
    requests on FastCharge). Rounded, the control equation is smooth and the current moves by at most half a
    milliampere.
    """
    return 0.5 * (a + b - casadi.sqrt((a - b) ** 2 + CONTROL_SMOOTHING_A**2))


@dataclass(frozen=True, eq=False)
class ControlledDae:
    """The limit controller's DAE (:func:`controlled_dae`): ``dae`` for ``casadi.integrator`` and its symbols."""

    dae: dict[str, casadi.MX]
    control: casadi.MX  # the control equation's residual [A]
    current: casadi.MX  # the charging current [A], the last algebraic unknown
    x: casadi.MX
    z_model: casadi.MX  # the model's own algebraic states (none for SPM/SPMe)
    others: casadi.MX  # the model inputs after the two current entries
    limits: casadi.MX  # in CONTROL_LIMITS order
    t: casadi.MX
    dt: casadi.MX


def controlled_dae(compiled: CompiledModel, temperature_index: int | None) -> ControlledDae:
    """The model's DAE with the charging current as an algebraic unknown held by the control equation of
    :func:`compile_controller`. Its ``p`` is the model inputs after the two current entries, the
    limits in :data:`CONTROL_LIMITS` order and ``dt``; its ``z`` the model's algebraic states followed by the current
    [A, charging]. The controller's step and the bound's optimiser (:mod:`eomctl.cell.optimal_control`, which needs it
    without JIT, for forward sensitivities) both integrate it.
    """
    dae = compiled.dae
    primitives = dae["p"].primitives()
    start, slope, dt = primitives[0], primitives[1], primitives[-1]
    others = primitives[2:-1]
    current = casadi.MX.sym("current_ch_a")
    limits = casadi.MX.sym("limits", len(CONTROL_LIMITS))
    # PyBaMM's sign: positive current discharges.
    ode, quad = casadi.substitute([dae["ode"], dae["quad"]], [start, slope], [-current, casadi.MX(0.0)])
    z_model = dae.get("z", casadi.MX(0, 1))
    at_current = casadi.vertcat(-current, 0.0, *others)
    outputs = compiled.outputs_function(dae["x"], z_model, at_current)
    names = compiled.output_names
    voltage, anode, temperature = (outputs[names.index(n)] for n in ("voltage_v", "anode_potential_v", "temperature_k"))
    heating_k_per_s = ode[temperature_index] / dt if temperature_index is not None else casadi.MX(0.0)
    g_v, g_a, g_t = CONTROL_GAINS
    margin = _smooth_min(
        _smooth_min(limits[0] - current, g_v * (limits[1] - voltage)),
        _smooth_min(g_a * (anode - limits[2]), g_t * (T_RATE_PER_S * (limits[3] - temperature) - heating_k_per_s)),
    )
    control = -_smooth_min(-margin, current)
    p = casadi.vertcat(*others, limits, dt)
    controlled: dict[str, casadi.MX] = {"t": dae["t"], "x": dae["x"], "p": p, "ode": ode, "quad": quad}
    if compiled.n_z:
        alg = casadi.substitute([dae["alg"]], [start, slope], [-current, casadi.MX(0.0)])[0]
        controlled["z"], controlled["alg"] = casadi.vertcat(z_model, current), casadi.vertcat(alg, control)
    else:
        controlled["z"], controlled["alg"] = current, control
    return ControlledDae(controlled, control, current, dae["x"], z_model, casadi.vertcat(*others), limits, dae["t"], dt)


def compile_controller(
    compiled: CompiledModel,
    temperature_index: int | None,
    *,
    rtol: float,
    atol: float,
    compile_c: bool | None,
    jit_flags: Sequence[str] = JIT_FLAGS,
) -> ControlledStep:
    """A step in which the charging current is the largest that keeps every limit, at every instant.

    The current becomes an algebraic unknown ``I`` (A, positive charging) of the DAE with the single equation

        max(min(I_max - I, g_V (V_max - V), g_a (phi_a - phi_a,min), g_T (k (T_max - T) - dT/dt)), -I) = 0

    (min and max rounded off within a milliampere, :func:`_smooth_min`),

    where ``V``, the anode potential ``phi_a`` and the heating rate ``dT/dt`` depend on ``I`` at the same instant. Each
    margin falls as ``I`` rises, so the root is the largest current in ``[0, I_max]`` at which all margins are >= 0 (0 A
    when even rest violates one, e.g. a cell above ``T_max``): constant current until a limit is reached, then the
    taper that holds it (a constant-voltage phase at ``V_max``, a constant anode potential, a temperature held at
    ``T_max``), as a BMS's CC-CV charger or a plating-aware controller does. One IDAS call runs a whole step or a whole
    charge phase, where a search over constant currents needs several calls per step.

    Returns
    -------
    ControlledStep
        ``step(x, z, p, limits, dt) -> (x_end, z_end, [quadratures, outputs at the end current, sum(x_end), I_end])``
        with ``p`` the model inputs (its current entries are ignored), ``limits`` in :data:`CONTROL_LIMITS` order and
        ``z`` the model's algebraic states followed by the current; and the control equation alone.
    """
    c = controlled_dae(compiled, temperature_index)
    use_jit = _compiler_available() if compile_c is None else compile_c
    jit_dir = tempfile.mkdtemp(prefix="eomctl_jit_") if use_jit else None
    try:
        with deferred():
            options = _integrator_options(rtol, atol, 1, jit_dir, jit_flags)
            if not compiled.n_z:
                # Each call starts from the consistent current (the control equation solved at the start state), so
                # IDAS's own consistent initialisation has nothing to do.
                options["calc_ic"] = False
            integrator, _ = _integrator(c.dae, options, 1, jit_dir, name="eomctl_controlled")
    finally:
        if jit_dir is not None:
            shutil.rmtree(jit_dir, ignore_errors=True)
    n_x, n_z = compiled.n_x, compiled.n_z
    x_in, z_in = casadi.MX.sym("x_in", n_x), casadi.MX.sym("z_in", n_z + 1)
    p_in, dt_in = casadi.MX.sym("p_in", c.others.numel() + 2), casadi.MX.sym("dt_in")
    lim_in = casadi.MX.sym("lim_in", len(CONTROL_LIMITS))
    sol = integrator(x0=x_in, z0=z_in, p=casadi.vertcat(p_in[2:], lim_in, dt_in))
    i_end = sol["zf"][n_z]
    p_end = casadi.vertcat(-i_end, 0.0, p_in[2:])
    small = casadi.vertcat(
        sol["qf"], compiled.outputs_function(sol["xf"], sol["zf"][:n_z], p_end), casadi.sum1(sol["xf"]), i_end
    )
    step = casadi.Function("controlled_step", [x_in, z_in, p_in, lim_in, dt_in], [sol["xf"], sol["zf"], small])
    # The control equation at one instant, to start each call from a consistent current (IDAS's own consistent
    # initialisation is a Newton iteration that can fail on the kinks of min/max from a far guess).
    # (The heating rate is d(T)/d(tau) / dt_s, so dt_s = 1 gives it unscaled.)
    tau_free = casadi.substitute([c.control], [c.t, c.dt], [casadi.MX(0.0), casadi.MX(1.0)])[0]
    equation = casadi.Function("control", [c.x, c.z_model, c.others, c.limits, c.current], [tau_free])
    return ControlledStep(step, _expand(equation))


@dataclass(frozen=True, eq=False)
class ControlledStep:
    """The limit-controller step and its control equation (see :func:`compile_controller`).

    ``equation(x, z, p_others, limits, I)`` is the control equation's residual at one instant: positive below the
    controlled current, zero at it, negative above it (in amperes; ``p_others`` are the model inputs after the two
    current entries).
    """

    step: casadi.Function
    equation: casadi.Function
