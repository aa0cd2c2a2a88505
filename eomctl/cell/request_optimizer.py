"""Optimal current *requests* through the simulator's own limit controller: the class of charges the env can run.

An env in "enforce" mode does not apply the current an action asks for: it asks the limit controller
(:func:`eomctl.cell.compiled_model.compile_controller`) for the largest current up to that request which keeps the
voltage, anode-potential and temperature limits at every instant, so within a step the current falls to hold a limit
(a CV taper, an anode potential held at its floor). A piecewise-constant current cannot follow such a taper: at the
fastest charges and wherever a baseline rides a limit, no piecewise-constant profile that keeps the limits reaches the
target in the baseline's time (measured: FastCharge, 2042 s, SOC 0.7991 at 30 s steps and 0.7994 at 5 s steps against
0.80). A :class:`RequestOptimizer` therefore poses the bound on the requests:

    minimise    a * Sigma(T) + w * LLI_irr(T)
    over        requests r_1 ... r_N on the env's own steps (the last one shortened to end at T), r = r_ref + B z
    subject to  SOC(T) >= soc_min,  0 <= r_k <= I_max

with every step run as the env runs it (:meth:`CellSimulator.step_limited`), so the limits hold at every instant by
construction and every baseline run through the env is a point of the feasible set (its own requests; the solve starts
from it and keeps only improvements). The gradient is exact: one forward-sensitivity solve of the controller's DAE per
step (IDAS, no JIT: CasADi cannot JIT an integrator's sensitivities), seeded with the start current's sensitivity from
the control equation (implicit function theorem: ``dI0 = -(r_x dx + r_lim dlim) / r_I``), so IDAS starts consistent.
Where a limit binds, the current does not depend on the request (the gradient is ~0 there): the optimiser reshapes
the parts of the charge where no limit binds, which is where a charger's choices are.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import casadi
import numpy as np

from eomctl.cell.compiled_model import NO_LIMIT, controlled_dae
from eomctl.cell.optimal_control import (
    FEASIBILITY_TOL,
    ChargeLimits,
    ControlSolution,
    constraint_violation,
    control_solution,
    hat_basis,
    solve_slsqp,
)
from eomctl.cell.simulator import RELAXATION_S, CellSimulator, SimState
from eomctl.core.errors import ConfigError
from eomctl.core.interrupts import deferred
from eomctl.core.streams import solver_messages_hidden

#: Step of the central differences [basis-weight units: a fraction of the maximum current] that stand in for a
#: step's sensitivities where the sensitivity integrator fails. Measured against the sensitivities (FastCharge, 10
#: steps, 4 directions): 1e-2 agrees to ~1e-4 relative; 1e-4 is lost in the integrators' noise (3-30 % off: the
#: quadratures are not error-controlled).
FD_STEP = 1e-2
#: SLSQP's iterates count as feasible within this SOC shortfall; the result is then repaired to the exact target.
REPAIR_TOL = 1e-4
REPAIR_SOC_SLACK = 2e-6  # the repaired end SOC lies in [target, target + this]
REPAIR_ITERATIONS = 8
#: SLSQP's first iterates overshoot the SOC condition (by 1e-2, then 1e-4: measured, FastCharge CC-CV 1C): the stall
#: test waits for more iterations than the piecewise-constant problem's before it calls the start optimal.
STALL_ITERATIONS = 4


class RequestOptimizer:
    """The bound's NLP over current requests through the limit controller (see the module docstring).

    Parameters
    ----------
    sim : CellSimulator
        The scenario's simulator with ``limit_control="controller"``; it is stepped (from the state given to
        :meth:`solve`) and left at that state.
    limits : ChargeLimits
        The env's limits, held by the controller.
    durations_s : sequence of float
        Step lengths [s]: the env's step, the last one possibly shorter so the charge ends at the budget.
    n_basis : int
        Free directions (hat functions over the steps) added to the start profile.
    entropy_weight, irreversible_weight : float
        Objective ``entropy_weight * Sigma + irreversible_weight * LLI_irr`` [J/K, J/K per %], as in
        :class:`~eomctl.cell.optimal_control.ChargeOptimizer`.
    """

    def __init__(
        self,
        sim: CellSimulator,
        limits: ChargeLimits,
        durations_s: Sequence[float] | np.ndarray,
        n_basis: int = 20,
        entropy_weight: float = 1.0,
        irreversible_weight: float = 0.0,
    ) -> None:
        if sim.n_z:
            raise ConfigError("the bound needs an ODE model (SPM or SPMe); this model has algebraic states (DFN)")
        if sim.config.limit_control != "controller":
            raise ConfigError("the request optimiser runs the env's limit controller: limit_control='controller'")
        self.sim, self.limits = sim, limits
        self.durations_s = np.asarray(durations_s, dtype=float)
        self.n_steps = len(self.durations_s)
        self.basis = hat_basis(self.n_steps, n_basis)
        self.entropy_weight, self.irreversible_weight = entropy_weight, irreversible_weight
        self._n_z = self.basis.shape[1]
        temperature = sim.differential_state_indices().get("Volume-averaged cell temperature [K]")
        t_index = int(temperature[0]) if temperature is not None and len(temperature) == 1 else None
        c = controlled_dae(sim.compiled, t_index)
        options: dict[str, Any] = {"abstol": sim.config.atol, "reltol": sim.config.rtol, "expand": True,
                                   "show_eval_warnings": False, "calc_ic": False}  # fmt: skip
        integrator = casadi.integrator("request_step", "idas", c.dae, 0.0, 1.0, options)
        self._threads = max(1, min(2, os.cpu_count() or 1, self._n_z))
        self._per_thread = -(-self._n_z // self._threads)
        self._forward = _threaded(integrator.forward(self._per_thread), self._threads)
        constant_options: dict[str, Any] = {**options, "sensitivity_method": "staggered", "fsens_err_con": False}
        del constant_options["calc_ic"]
        model_dae: dict[str, Any] = dict(sim.dae)
        constant = casadi.integrator("request_constant", "cvodes", model_dae, 0.0, 1.0, constant_options)
        self._forward_constant = _threaded(constant.forward(self._per_thread), self._threads)
        # The control equation and its derivatives at one instant (tau-free: the heating rate unscaled, as in the
        # controller's own start-current equation).
        tau_free = casadi.substitute([c.control], [c.t, c.dt], [casadi.MX(0.0), casadi.MX(1.0)])[0]
        self._control_jac = casadi.Function(
            "control_jac", [c.x, c.others, c.limits, c.current],
            [casadi.jacobian(tau_free, c.x), casadi.jacobian(tau_free, c.limits), casadi.jacobian(tau_free, c.current)],
        ).expand()  # fmt: skip
        names = sim.output_names
        self._names = names
        x_sym, p_sym = casadi.MX.sym("x", sim.n_x), casadi.MX.sym("p", len(sim.input_names))
        out = sim.output_function(x_sym, casadi.MX(0, 1), p_sym)
        self._output_jac = casadi.Function("output_jac", [x_sym, p_sym], [casadi.jacobian(out, x_sym)]).expand()
        rest_options = {k: v for k, v in options.items() if k != "calc_ic"}
        self._rest = casadi.integrator("request_rest", "cvodes", model_dae, 0.0, 1.0, rest_options)
        self._rest_forward = self._rest.forward(self._n_z)
        self._nominal_limits = (
            limits.v_max_v,
            NO_LIMIT["anode_min_v"] if limits.anode_min_v is None else limits.anode_min_v,
            NO_LIMIT["t_max_k"] if limits.t_max_k is None else limits.t_max_k,
        )
        self.lbg = np.concatenate([[0.0], np.zeros(self.n_steps)])
        self.ubg = np.concatenate([[np.inf], np.ones(self.n_steps)])
        self._chain: tuple[bytes, list[tuple[SimState, float, bool]], SimState] | None = None
        self._rest_memo: tuple[SimState, Any, np.ndarray] | None = None

    @property
    def n_variables(self) -> int:
        """Decision variables: the basis weights."""
        return self._n_z

    # ------------------------------------------------------------------ evaluation
    def requests(self, z: np.ndarray, params: list[Any]) -> np.ndarray:
        """Requests [A] at basis weights ``z`` (clipped to ``[0, I_max]`` for the simulator)."""
        u_ref = params[3]
        return np.clip(u_ref + self.basis @ z, 0.0, 1.0) * self.limits.current_max_a

    def _run(self, z: np.ndarray, params: list[Any]) -> tuple[list[tuple[SimState, float, bool]], SimState]:
        """Step the simulator through the requests at ``z`` as the env does: each step's start state and start
        current, and the end state. RuntimeError if a step fails."""
        key = z.tobytes() + np.asarray(params[3]).tobytes() + str(id(params[0])).encode()
        if self._chain is not None and self._chain[0] == key:
            return self._chain[1], self._chain[2]
        state = params[0]
        sim = self.sim
        sim.restore(state)
        starts: list[tuple[SimState, float, bool]] = []
        v_max, anode_min, t_max = self.limits.v_max_v, self.limits.anode_min_v, self.limits.t_max_k
        for request_a, dt_s in zip(self.requests(z, params), self.durations_s, strict=True):
            start = sim.state
            current_0 = sim.controlled_start_current(start, float(request_a), v_max, anode_min, t_max)
            result = sim.step_limited(float(request_a), float(dt_s), v_max_v=v_max, anode_min_v=anode_min,
                                      t_max_k=t_max)  # fmt: skip
            if result.solver_failed:
                sim.restore(state)
                raise RuntimeError("a controlled step failed")
            # Whether the current stayed at the request all step (no limit bound): its sensitivity is then the plain
            # model's at constant current, which CVODES gives ~3x cheaper than IDAS on the controller's DAE.
            starts.append((start, current_0, result.stop_reason == "limited" or current_0 < request_a - 1e-9))
        end = sim.state
        sim.restore(state)
        self._chain = (key, starts, end)
        return starts, end

    def _irreversible(self, end: SimState, lli_0: float) -> tuple[float, Any, Any]:
        """LLI_irr [%] after the rest that follows the charge; and the rest's inputs for its sensitivity."""
        names = self._names
        p_rest = np.array(end.inputs, dtype=float)
        p_rest[0] = p_rest[1] = 0.0
        out_end = end.outputs
        if not ("plating_ah" in names and "li_particles_ah" in names):
            return out_end.get("lli_pct", 0.0) - lli_0, p_rest, None
        rested, out_rest = self._rested(end, p_rest)
        recovered_ah = out_end["plating_ah"] - out_rest[names.index("plating_ah")]
        lithium_0_ah = out_end["li_particles_ah"] / (1.0 - out_end["lli_pct"] / 100.0)
        return out_end["lli_pct"] - lli_0 - 100.0 * recovered_ah / lithium_0_ah, p_rest, rested

    def _rested(self, end: SimState, p_rest: np.ndarray) -> tuple[Any, np.ndarray]:
        """The state after the rest that follows the charge ending at ``end``, and its outputs: integrated once per
        end state (the objective and then its gradient at the same point both need it)."""
        if self._rest_memo is None or self._rest_memo[0] is not end:
            rested = self._rest(x0=end.x, p=casadi.vertcat(p_rest, RELAXATION_S))["xf"]
            outputs = np.asarray(self.sim.output_function(rested, casadi.DM(0, 1), p_rest)).ravel()
            self._rest_memo = (end, rested, outputs)
        return self._rest_memo[1], self._rest_memo[2]

    def values(self, z: np.ndarray, params: list[Any]) -> np.ndarray:
        """``[objective, entropy, SOC_end - soc_min, u...]`` at basis weights ``z``."""
        state, window, soc_min, u_ref = params
        _, end = self._run(z, params)
        entropy = float(end.totals[0] - state.totals[0])
        objective = self.entropy_weight * entropy
        if self.irreversible_weight:
            objective += self.irreversible_weight * self._irreversible(end, state.outputs.get("lli_pct", 0.0))[0]
        soc = (end.outputs["x_avg"] - window[0]) / (window[1] - window[0])
        u = np.clip(u_ref + self.basis @ z, -1.0, 2.0)
        return np.concatenate([[objective, entropy, soc - soc_min], u])

    def jacobian(self, z: np.ndarray, params: list[Any], fg: np.ndarray) -> np.ndarray:
        """d[objective, entropy, SOC_end, u...]/dz: forward sensitivities of every controlled step, chained."""
        state, window, _, _ = params
        starts, end = self._run(z, params)
        i_max, m = self.limits.current_max_a, self._n_z
        width = self._per_thread * self._threads
        d_x = np.zeros((self.sim.n_x, width))
        d_entropy = np.zeros(width)
        seeds_u = np.zeros((self.n_steps, width))
        seeds_u[:, :m] = self.basis * i_max
        moved = False  # the finite-difference fallback steps the simulator: return it to the start afterwards
        for k, ((start, current_0, limited), dt_s, request_a) in enumerate(
            zip(starts, self.durations_s, self.requests(z, params), strict=True)
        ):
            inputs = np.asarray(start.inputs, dtype=float)
            try:
                d_x, d_q = self._step_sensitivity(start, current_0, limited, float(dt_s), float(request_a), inputs,
                                                  d_x, seeds_u[k])  # fmt: skip
            except RuntimeError:
                # The sensitivity integrator failed where the values integrated (measured: IDAS on a step where a
                # limit starts to bind, AgedCell CC-CV 2C). Central differences of that step through the simulator.
                d_x, d_q = self._step_differences(start, float(dt_s), float(request_a), d_x, seeds_u[k], m)
                moved = True
            d_entropy = d_entropy + d_q
        if moved:
            self.sim.restore(state)
        d_x, d_entropy = d_x[:, :m], d_entropy[:m]
        names = self._names
        out_jac = np.asarray(self._output_jac(end.x, np.asarray(end.inputs, dtype=float)))
        d_soc = out_jac[names.index("x_avg")] @ d_x / (window[1] - window[0])
        d_objective = self.entropy_weight * d_entropy
        if self.irreversible_weight:
            d_objective = d_objective + self.irreversible_weight * self._irreversible_gradient(end, d_x, out_jac)
        return np.vstack([d_objective, d_entropy, d_soc, self.basis])

    def _step_sensitivity(
        self,
        start: SimState,
        current_0: float,
        limited: bool,
        dt_s: float,
        request_a: float,
        inputs: np.ndarray,
        d_x: np.ndarray,
        d_request: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Forward sensitivities of one step: the end state's and the step entropy's along the directions (``d_x``
        of the start state, ``d_request`` of the request). CVODES on the model where the request held all step, IDAS
        on the controller's DAE where a limit bound, its start current's direction from the control equation."""
        width, reps = d_x.shape[1], self._threads
        if not limited:  # constant current = the request all step
            p = np.concatenate([[-request_a, 0.0], inputs[2:], [dt_s]])
            d_p = np.zeros((len(p), width))
            d_p[0] = -d_request  # PyBaMM's sign: the model's current is minus the charging current
            with deferred(), solver_messages_hidden():
                out = self._forward_constant(x0=np.tile(np.asarray(start.x), (1, reps)),
                                             p=np.tile(p[:, None], (1, reps)), fwd_x0=d_x, fwd_p=d_p)  # fmt: skip
        else:
            lim = np.array([request_a, *self._nominal_limits])
            r_x, r_lim, r_i = (np.asarray(a) for a in self._control_jac(start.x, inputs[2:], lim, current_0))
            d_lim = np.zeros((4, width))
            d_lim[0] = d_request
            d_current = -(r_x @ d_x + r_lim @ d_lim) / float(r_i.item())
            p = np.concatenate([inputs[2:], lim, [dt_s]])
            d_p = np.zeros((len(p), width))
            d_p[len(inputs) - 2] = d_request
            with deferred(), solver_messages_hidden():
                out = self._forward(
                    x0=np.tile(np.asarray(start.x), (1, reps)), z0=np.full((1, reps), current_0),
                    p=np.tile(p[:, None], (1, reps)), fwd_x0=d_x, fwd_z0=d_current, fwd_p=d_p,
                )  # fmt: skip
        return np.asarray(out["fwd_xf"]), np.asarray(out["fwd_qf"])[0]

    def _step_differences(
        self, start: SimState, dt_s: float, request_a: float, d_x: np.ndarray, d_request: np.ndarray, m: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_step_sensitivity` by central differences of the controlled step along each of the first ``m``
        directions (2 m single steps; a step of FD_STEP in basis-weight units)."""
        sim, limits = self.sim, self.limits
        x0, inputs = np.asarray(start.x).ravel(), np.asarray(start.inputs, dtype=float)
        out_x, out_q = np.zeros_like(d_x), np.zeros(d_x.shape[1])
        for j in range(m):
            ends = []
            for sign in (1.0, -1.0):
                h = sign * FD_STEP
                sim.restore(sim.state_at(x0 + h * d_x[:, j], inputs, start.time_s))
                result = sim.step_limited(max(0.0, request_a + h * d_request[j]), dt_s, v_max_v=limits.v_max_v,
                                          anode_min_v=limits.anode_min_v, t_max_k=limits.t_max_k)  # fmt: skip
                if result.solver_failed:
                    raise RuntimeError("a controlled step failed in the finite-difference sensitivity")
                # The entropy quadrature as values() reads it (the totals start at zero in a state_at state).
                ends.append((np.asarray(sim.state.x).ravel(), float(sim.state.totals[0])))
            out_x[:, j] = (ends[0][0] - ends[1][0]) / (2.0 * FD_STEP)
            out_q[j] = (ends[0][1] - ends[1][1]) / (2.0 * FD_STEP)
        return out_x, out_q

    def _irreversible_gradient(self, end: SimState, d_x: np.ndarray, out_jac: np.ndarray) -> np.ndarray:
        names = self._names
        _, p_rest, rested = self._irreversible(end, 0.0)
        d_lli_end = out_jac[names.index("lli_pct")] @ d_x
        if rested is None:
            return d_lli_end
        # LLI_irr = LLI_end - 100 (plating_end - plating_rest) (1 - LLI_end / 100) / Li_particles_end
        lli_end, plating_end = end.outputs["lli_pct"], end.outputs["plating_ah"]
        li_end = end.outputs["li_particles_ah"]
        with deferred(), solver_messages_hidden():
            rest_out = self._rest_forward(x0=end.x, p=casadi.vertcat(p_rest, RELAXATION_S), out_xf=rested, fwd_x0=d_x)
        d_rested = np.asarray(rest_out["fwd_xf"])
        rest_jac = np.asarray(self._output_jac(rested, p_rest))
        plating_rest = float(self._rested(end, p_rest)[1][names.index("plating_ah")])
        d_plating_end = out_jac[names.index("plating_ah")] @ d_x
        d_plating_rest = rest_jac[names.index("plating_ah")] @ d_rested
        d_li_end = out_jac[names.index("li_particles_ah")] @ d_x
        recovered = plating_end - plating_rest
        factor = (1.0 - lli_end / 100.0) / li_end
        d_factor = -d_lli_end / 100.0 / li_end - (1.0 - lli_end / 100.0) * d_li_end / li_end**2
        return d_lli_end - 100.0 * ((d_plating_end - d_plating_rest) * factor + recovered * d_factor)

    def violation(self, fg: np.ndarray) -> float:
        """The largest constraint violation of ``[objective, entropy, g...]`` (0 when feasible)."""
        return constraint_violation(fg, self.lbg, self.ubg)

    # ------------------------------------------------------------------ solving
    def solve(
        self,
        state: SimState,
        window: tuple[float, float],
        soc_min: float,
        starts_a: list[np.ndarray],
        max_wall_time_s: float = 300.0,
    ) -> ControlSolution:
        """Optimise the requests from ``state``, starting at the best of ``starts_a`` (requests [A] per step): the
        feasible one with the lowest objective (a start short of the target SOC is first repaired, as the result
        is), else the least infeasible. The result is the best feasible iterate,
        so never worse than a feasible start."""
        tic = time.perf_counter()
        i_max = self.limits.current_max_a
        scored = []
        for i, start in enumerate(starts_a):
            ref = np.clip(np.asarray(start, dtype=float) / i_max, 0.0, 1.0)
            params = [state, window, soc_min, ref]
            z0 = np.zeros(self._n_z)
            try:
                fg = self.values(z0, params)
            except RuntimeError:
                continue
            if self.violation(fg) > FEASIBILITY_TOL:
                # A start that ends just short of the target SOC (e.g. another class's optimum, whose steps the
                # controller cuts where a limit binds) is repaired first, so it can compete as a feasible start.
                z_repaired, fg_repaired = self._repair(z0, fg, params)
                if self.violation(fg_repaired) <= FEASIBILITY_TOL:
                    ref = self.requests(z_repaired, params) / i_max
                    params, fg = [state, window, soc_min, ref], fg_repaired
            infeasible = self.violation(fg) > FEASIBILITY_TOL
            # Feasible starts rank by objective (a violation within the tolerance is no merit), then the others.
            scored.append((infeasible, self.violation(fg) if infeasible else fg[0], i, ref, params, fg))
        if not scored:
            return control_solution(np.zeros(self.n_steps), np.nan, np.nan, "solver_failure", 0, tic, -1, False)
        _, _, index, ref, start_params, fg0 = min(scored, key=lambda s: s[:3])
        params, fg_start = start_params, fg0
        remaining_s = max_wall_time_s - (time.perf_counter() - tic)
        z, status, n_iter, fg = solve_slsqp(
            self, params, fg_start, remaining_s, feasibility_tol=REPAIR_TOL, stall_iterations=STALL_ITERATIONS
        )
        if self.violation(fg) > FEASIBILITY_TOL:
            z, fg = self._repair(z, fg, params)
        start_feasible = self.violation(fg0) <= FEASIBILITY_TOL
        if start_feasible and not (self.violation(fg) <= FEASIBILITY_TOL and fg[0] <= fg0[0]):
            z, fg, params = np.zeros(self._n_z), fg0, start_params  # nothing better than the start: keep the start
        currents = self.requests(z, params)
        feasible = self.violation(fg) <= FEASIBILITY_TOL
        return control_solution(currents, fg[1], fg[0], status, n_iter, tic, index, feasible)

    def _repair(self, z: np.ndarray, fg: np.ndarray, params: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Close a small end-SOC shortfall (SLSQP's iterates approach the SOC condition from below, within the
        integrators' noise) by raising every request alike, ``z + t 1``, with ``t`` found by the secant method on
        values alone. Returns the input unchanged if that fails."""
        direction, aim = np.ones(self._n_z), 0.5 * REPAIR_SOC_SLACK
        t_prev, h_prev = 0.0, fg[2] - aim
        t = max(1e-6, -20.0 * h_prev)  # d SOC / d t ~ 0.05-0.1 for all weights together: a first step past the root
        for _ in range(REPAIR_ITERATIONS):
            try:
                trial = self.values(z + t * direction, params)
            except RuntimeError:
                break
            if self.violation(trial) <= FEASIBILITY_TOL and trial[2] <= REPAIR_SOC_SLACK:
                return z + t * direction, trial
            h = trial[2] - aim
            if h == h_prev:
                break
            t, t_prev, h_prev = t - h * (t - t_prev) / (h - h_prev), t, h
        return z, fg


def _threaded(forward: casadi.Function, threads: int) -> casadi.Function:
    """A forward-sensitivity function run as ``threads`` parallel copies (directions split between them)."""
    return forward.map(threads, "thread", threads) if threads > 1 else forward
