"""Optimal charging currents on the simulator's own equations: the machinery under the bound and the MPC policy.

A :class:`ChargeOptimizer` poses, once per simulator and problem size, the open-loop problem

    minimise    a * Sigma(t_0 + N dt) + w * LLI_irr
    over        N piecewise-constant currents I_1 ... I_N (steps of ``dt_s``), written I = I_ref + B z
    subject to  V <= v_max, T <= t_max, anode potential >= anode_min at ``checks_per_step`` points inside every step,
                0 <= I_k <= I_max,  SOC(end) >= soc_min

on :attr:`CellSimulator.dae` (the same discretised PyBaMM model the simulator steps), by single shooting: CVODES
integrates each step and returns the state at the check points in the same call; CasADi differentiates the chain
exactly through CVODES forward sensitivities. ``I_ref`` (a start profile, e.g. the matched CC-CV) and the initial
state are parameters, so one graph serves every budget of a sweep and every replan of an MPC.

Why a basis ``B`` (hat functions on ``n_basis`` knots) rather than one variable per step: a Jacobian costs one forward
sensitivity direction per variable through the whole charge, ~2x a plain integration per direction (measured: 80
steps of 30 s, SPMe, 20 directions: 8.7 s single-threaded, 4.0 s as two threads of 10). Steps stay at the env's own
step size, so the CV taper and the limits are followed as finely as any baseline at that step follows them, and the
reference profile itself is the point ``z = 0``: the optimum can only improve on the start it is given.
Why SLSQP: see :func:`solve_slsqp`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import casadi
import numpy as np

from eomctl.cell.simulator import RELAXATION_S, CellSimulator, SimState

SLSQP_MAX_ITER = 60
SLSQP_FTOL = 1e-7  # [objective units, J/K]: ~1e-8 of Sigma (~8 J/K), far below the 0.1-3 % gaps to resolve
#: An integrator failure at a trial point is taken as a value this many times the start's objective (SLSQP's line
#: search then steps back); after MAX_TRIAL_FAILURES of them the solve ends with status "solver_failure".
TRIAL_FAILURE_FACTOR = 100.0
MAX_TRIAL_FAILURES = 5
FEASIBILITY_TOL = 1e-6  # a constraint this far past its bound still counts as met (V, K, SOC units)
STALL_ITERATIONS = 2
STALL_TOL = 1e-5  # [J/K]: 1e-6 of Sigma, 1 % of the smallest gap (0.1 %) a comparison resolves
IRREVERSIBLE_SCALE = 10.0  # [J/K per %]: the "irreversible" objective is 10 x LLI_irr, O(0.01-10) like Sigma


@dataclass(frozen=True)
class ChargeLimits:
    """Limits a charge must respect, resolved to numbers (``None``: not enforced)."""

    v_max_v: float
    t_max_k: float | None
    anode_min_v: float | None
    current_max_a: float


@dataclass(frozen=True)
class ControlSolution:
    """The outcome of :meth:`ChargeOptimizer.solve`.

    ``status`` is "optimal", "iteration_limit", "time_limit", "infeasible", "not_converged" or "solver_failure";
    whatever it says, ``currents_a`` is the best feasible profile seen (the start when nothing better was found), so a
    caller can always act on it. ``start`` is the index of the start profile the solve began from.
    """

    currents_a: np.ndarray
    predicted_entropy_j_per_k: float
    predicted_objective: float
    status: str
    iterations: int
    solve_time_s: float
    start: int
    feasible: bool


def constraint_violation(fg: np.ndarray, lbg: np.ndarray, ubg: np.ndarray) -> float:
    """The largest violation of ``lbg <= g <= ubg`` in ``[objective, entropy, g...]`` (0 when feasible)."""
    g = fg[2:]
    return float(max(0.0, np.max(lbg - g), np.max(g - ubg)))


def hat_basis(n_steps: int, n_basis: int) -> np.ndarray:
    """``(n_steps, m)`` piecewise-linear hat functions on ``m = min(n_basis, n_steps)`` knots over the charge (the
    identity when every step gets its own variable)."""
    if n_basis >= n_steps:
        return np.eye(n_steps)
    mid = (np.arange(n_steps) + 0.5) / n_steps
    knots = np.linspace(0.0, 1.0, n_basis)
    return np.maximum(0.0, 1.0 - np.abs(mid[:, None] - knots[None, :]) * (n_basis - 1))


class ChargeOptimizer:
    """The charging NLP of one simulator and problem size, built once and solved from any start state and profile.

    Parameters
    ----------
    sim : CellSimulator
        The model to optimise on (its DAE, outputs and tolerances); it is not stepped.
    limits : ChargeLimits
        Limits enforced at every check point.
    n_steps, dt_s : int, float
        Number of piecewise-constant steps and their length [s].
    checks_per_step : int
        Check points per step at which the limits are imposed (equally spaced, the step end included).
    n_basis : int
        Free directions (hat functions) added to the start profile.
    entropy_weight, irreversible_weight : float
        Objective ``entropy_weight * Sigma + irreversible_weight * LLI_irr`` [J/K, J/K per %]. LLI_irr is the lithium
        lost for good: LLI at the end minus the plated lithium that strips back in a ``RELAXATION_S`` open-circuit rest
        (the split of :meth:`CellSimulator.irreversible_loss`).
    soc_shortfall_weight : float, optional
        If given, the end-SOC condition is soft: a shortfall ``s >= 0`` below ``soc_min`` is allowed at a cost of
        ``soc_shortfall_weight * s`` [J/K per unit SOC]. A receding-horizon controller that has fallen behind its
        schedule then still gets the plan that catches up fastest, instead of no plan.
    """

    def __init__(
        self,
        sim: CellSimulator,
        limits: ChargeLimits,
        n_steps: int,
        dt_s: float,
        checks_per_step: int = 3,
        n_basis: int = 20,
        entropy_weight: float = 1.0,
        irreversible_weight: float = 0.0,
        soc_shortfall_weight: float | None = None,
    ) -> None:
        self.limits, self.n_steps, self.dt_s = limits, n_steps, float(dt_s)
        self.basis = hat_basis(n_steps, n_basis)
        names = sim.output_names
        options: dict[str, Any] = {
            "abstol": sim.config.atol,
            "reltol": sim.config.rtol,
            "expand": True,
            "show_eval_warnings": False,
            # Staggered forward sensitivities out of the step-size control: 1.8x faster Jacobians than CasADi's
            # default, gradients unchanged to 7 digits (measured on 20 intervals of SPMe).
            "fsens_err_con": False,
            "sensitivity_method": "staggered",
        }
        grid = [k / checks_per_step for k in range(1, checks_per_step + 1)]  # normalised time of the check points
        dae: dict[str, Any] = dict(sim.dae)
        step = casadi.integrator("oc_step", "cvodes", dae, 0.0, grid, options)
        rest = casadi.integrator("oc_rest", "cvodes", dae, 0.0, 1.0, options)
        n_x, n_p = sim.n_x, len(sim.input_names) - 2  # inputs after the current's start and slope
        # Parameters: start state, the inputs after the current (ambient, initial T, aging...), SOC window, SOC target,
        # the reference profile (as a fraction of the maximum current).
        x_start = casadi.MX.sym("x_start", n_x)
        p_rest = casadi.MX.sym("p_rest", n_p)
        window = casadi.MX.sym("window", 2)
        soc_min = casadi.MX.sym("soc_min")
        u_ref = casadi.MX.sym("u_ref", n_steps)
        n_free = self.basis.shape[1]
        soft = soc_shortfall_weight is not None
        z = casadi.MX.sym("z", n_free + int(soft))
        u = u_ref + casadi.mtimes(casadi.DM(self.basis), z[:n_free])
        shortfall: Any = z[n_free] if soft else 0.0
        i_max = limits.current_max_a
        x: Any = x_start
        entropy: Any = 0.0
        g: list[Any] = []
        lbg: list[float] = []
        ubg: list[float] = []
        path = [("voltage_v", -np.inf, limits.v_max_v)]
        if limits.t_max_k is not None:
            path.append(("temperature_k", -np.inf, limits.t_max_k))
        if limits.anode_min_v is not None:
            path.append(("anode_potential_v", limits.anode_min_v, np.inf))
        out: Any = None
        p_k: Any = None
        for k in range(n_steps):
            p_k = casadi.vertcat(-u[k] * i_max, 0.0, p_rest)  # PyBaMM current: negative on charge
            sol = step(x0=x, p=casadi.vertcat(p_k, self.dt_s))
            states, entropy = sol["xf"], entropy + sol["qf"][0, -1]
            for j in range(checks_per_step):
                out = sim.output_function(states[:, j], casadi.MX(0, 1), p_k)
                for name, lower, upper in path:
                    g.append(out[names.index(name)])
                    lbg.append(lower)
                    ubg.append(upper)
            x = states[:, -1]
        soc_end = (out[names.index("x_avg")] - window[0]) / (window[1] - window[0])
        self._soc_row = len(g)  # where the end-SOC condition sits in g
        g.append(soc_end - soc_min + shortfall)
        lbg.append(0.0)
        ubg.append(np.inf)
        if soft:
            g.append(shortfall)
            lbg.append(0.0)
            ubg.append(np.inf)
        g.append(u)  # 0 <= I <= I_max, as constraints: the variables are basis weights, not currents
        lbg += [0.0] * n_steps
        ubg += [1.0] * n_steps
        objective: Any = entropy_weight * entropy
        irreversible: Any = 0.0
        if "lli_pct" in names:
            out0 = sim.output_function(x_start, casadi.MX(0, 1), casadi.vertcat(0.0, 0.0, p_rest))
            lli_end = out[names.index("lli_pct")]
            irreversible = lli_end - out0[names.index("lli_pct")]
            if "plating_ah" in names and "li_particles_ah" in names and irreversible_weight:
                p_rest_k = casadi.vertcat(0.0, 0.0, p_rest)
                rested = rest(x0=x, p=casadi.vertcat(p_rest_k, RELAXATION_S))["xf"]
                out_rest = sim.output_function(rested, casadi.MX(0, 1), p_rest_k)
                recovered_ah = out[names.index("plating_ah")] - out_rest[names.index("plating_ah")]
                lithium_0_ah = out[names.index("li_particles_ah")] / (1.0 - lli_end / 100.0)
                irreversible = irreversible - 100.0 * recovered_ah / lithium_0_ah
        if irreversible_weight:
            objective = objective + irreversible_weight * irreversible
        if soft:
            objective = objective + soc_shortfall_weight * shortfall
        self.lbg, self.ubg = np.array(lbg), np.array(ubg)
        params = [x_start, p_rest, window, soc_min, u_ref]
        fg = casadi.vertcat(objective, entropy, casadi.vertcat(*g))
        self._values = casadi.Function("oc_values", [z, *params], [fg])
        self._n_z = n_free + int(soft)
        self._n_free = n_free
        # The Jacobian as forward directions split over threads (CVODES runs each group in its own thread).
        self._threads = max(1, min(2, os.cpu_count() or 1, self._n_z))
        per_thread = -(-self._n_z // self._threads)
        forward = self._values.forward(per_thread)
        self._per_thread = per_thread
        self._jacobian = forward.map(self._threads, "thread", self._threads)

    @property
    def n_variables(self) -> int:
        """Decision variables: the basis weights, and the SOC shortfall when the end condition is soft."""
        return self._n_z

    # ------------------------------------------------------------------ evaluation
    def _params(self, state: SimState, window: tuple[float, float], soc_min: float, u_ref: np.ndarray) -> list[Any]:
        inputs = np.asarray(state.inputs, dtype=float)[2:]
        return [casadi.DM(state.x), casadi.DM(inputs), casadi.DM(window), casadi.DM(soc_min), casadi.DM(u_ref)]

    def values(self, z: np.ndarray, params: list[Any]) -> np.ndarray:
        """``[objective, entropy, g...]`` at basis weights ``z``."""
        return np.asarray(self._values(z, *params)).ravel()

    def jacobian(self, z: np.ndarray, params: list[Any], fg: np.ndarray) -> np.ndarray:
        """d[objective, entropy, g...]/dz, exact (CVODES forward sensitivities), directions split over threads."""
        reps, width = self._threads, self._per_thread * self._threads
        seeds = np.eye(self._n_z, width)  # direction j seeds z_j; padding directions are zero
        tiled = [casadi.repmat(p, 1, reps) for p in params]
        zero_seeds = [casadi.DM.zeros(p.shape[0], width) for p in params]
        result = self._jacobian(np.tile(z[:, None], (1, reps)), *tiled, np.tile(fg[:, None], (1, reps)), seeds,
                                *zero_seeds)  # fmt: skip
        return np.asarray(result)[:, : self._n_z]

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
        """Optimise from ``state`` starting at the best of ``starts_a`` (profiles of ``n_steps`` currents [A]).

        The best start is the feasible one with the lowest objective (else the least infeasible): so the result is
        never worse than any feasible start it was given. The returned profile is the best feasible iterate.
        """
        tic = time.perf_counter()
        i_max = self.limits.current_max_a
        scored = []
        for i, start in enumerate(starts_a):
            ref = np.clip(np.asarray(start, dtype=float) / i_max, 0.0, 1.0)
            params = self._params(state, window, soc_min, ref)
            z0 = np.zeros(self._n_z)
            try:
                fg = self.values(z0, params)
                if self._n_z > self._n_free:  # soft end condition: start with the shortfall that meets it
                    z0[-1] = max(0.0, -fg[2 + self._soc_row])
                    fg = self.values(z0, params)
            except RuntimeError:
                continue
            infeasible = self.violation(fg) > FEASIBILITY_TOL
            # Feasible starts rank by objective (a violation within the tolerance is no merit), then the others.
            scored.append((infeasible, self.violation(fg) if infeasible else fg[0], i, ref, params, fg, z0))
        if not scored:
            return control_solution(np.zeros(self.n_steps), np.nan, np.nan, "solver_failure", 0, tic, -1, False)
        _, _, index, ref, params, fg0, z0 = min(scored, key=lambda s: s[:3])
        z, status, n_iter, fg = solve_slsqp(self, params, fg0, max_wall_time_s - (time.perf_counter() - tic), z0)
        currents = np.clip(ref + self.basis @ z[: self._n_free], 0.0, 1.0) * i_max
        feasible = self.violation(fg) <= FEASIBILITY_TOL
        return control_solution(currents, fg[1], fg[0], status, n_iter, tic, index, feasible)


def control_solution(
    currents: np.ndarray, entropy: float, objective: float, status: str, n_iter: int, tic: float, start: int,
    feasible: bool,
) -> ControlSolution:  # fmt: skip
    """A :class:`ControlSolution`, its solve time counted from ``tic`` (``time.perf_counter``)."""
    return ControlSolution(
        currents_a=currents,
        predicted_entropy_j_per_k=float(entropy),
        predicted_objective=float(objective),
        status=status,
        iterations=n_iter,
        solve_time_s=time.perf_counter() - tic,
        start=start,
        feasible=feasible,
    )


class _WallTimeExceeded(Exception):
    """Raised from a callback to stop SLSQP at its wall-time cap."""


class _Stalled(Exception):
    """Raised from a callback when the best feasible objective has stopped improving (converged)."""


def solve_slsqp(
    problem: Any,
    params: list[Any],
    fg0: np.ndarray,
    max_wall_time_s: float,
    z0: np.ndarray | None = None,
    feasibility_tol: float = FEASIBILITY_TOL,
    stall_iterations: int = STALL_ITERATIONS,
) -> tuple[np.ndarray, str, int, np.ndarray]:
    """SciPy's SLSQP on exact CasADi derivatives from ``z0`` (default 0, whose ``[f, Sigma, g...]`` is ``fg0``):
    ``(z, status, iterations, [f, Sigma, g...] at z)``.

    Measured on FastCharge 2400 s, 20 intervals (SPMe lumped, 2-core machine): SLSQP 12 iterations in 61 s, IPOPT with
    an L-BFGS Hessian 15 iterations in 162 s, same optimum to 1e-8 J/K. SLSQP's dense BFGS suits 10-30 variables, and
    its line search needs only values (one simulation each); a Jacobian (one forward-sensitivity solve of all
    directions) is evaluated once per iteration. The best feasible iterate is kept: past the wall-time cap, after
    repeated integrator failures (a failed trial point is first taken as a high value, so the line search steps back)
    or when SLSQP stops infeasible, that iterate is returned. A point counts as
    feasible within ``feasibility_tol`` (a caller that repairs small violations afterwards may pass a looser one) and
    the solve has converged when ``stall_iterations`` iterations in a row improved the best feasible point by less than
    ``STALL_TOL``.
    ``problem`` is a :class:`ChargeOptimizer` or anything with its ``n_variables``, ``lbg``, ``ubg``, ``values``,
    ``jacobian`` and ``violation`` (:class:`eomctl.cell.request_optimizer.RequestOptimizer`).
    """
    from scipy.optimize import minimize

    n_z = problem.n_variables
    z_start = np.zeros(n_z) if z0 is None else np.asarray(z0, dtype=float)
    lbg, ubg = problem.lbg, problem.ubg
    lower, upper = np.isfinite(lbg), np.isfinite(ubg)
    cache: dict[str, tuple[bytes, np.ndarray]] = {"values": (z_start.tobytes(), fg0)}
    feasible0 = problem.violation(fg0) <= feasibility_tol
    best: list[Any] = [fg0[0] if feasible0 else np.inf, z_start, fg0]
    deadline = time.perf_counter() + max_wall_time_s
    history: list[float] = []
    failures = [0]  # integrator failures at trial points so far

    def evaluate(kind: str, x: np.ndarray) -> np.ndarray:
        if kind in cache and cache[kind][0] == x.tobytes():
            return cache[kind][1]
        if time.perf_counter() > deadline:
            raise _WallTimeExceeded
        if kind == "values":
            try:
                value = problem.values(x, params)
            except RuntimeError:  # the integrator failed at this trial point
                failures[0] += 1
                if failures[0] > MAX_TRIAL_FAILURES:
                    raise
                # A value far above the start's makes SLSQP's line search step back (by 10x at most per try)
                # towards the last iterate, which did integrate, instead of ending the solve.
                value = fg0.copy()
                value[0] = abs(fg0[0]) * TRIAL_FAILURE_FACTOR + 1.0
            if problem.violation(value) <= feasibility_tol and value[0] < best[0]:
                best[:] = [value[0], x.copy(), value]
        else:
            # One Jacobian per SLSQP iteration. Converged when STALL_ITERATIONS iterations improved the best feasible
            # objective by less than STALL_TOL in all: near an active voltage limit SLSQP otherwise alternates
            # between points 1e-7 V either side of it for dozens of iterations (measured: 19 Jacobians, 105 values).
            history.append(best[0])
            if len(history) > stall_iterations and history[-stall_iterations - 1] - best[0] < STALL_TOL:
                raise _Stalled
            value = problem.jacobian(x, params, evaluate("values", x))
        cache[kind] = (x.tobytes(), value)
        return value

    def inequalities(x: np.ndarray) -> np.ndarray:  # SLSQP's form: c(x) >= 0
        g = evaluate("values", x)[2:]
        return np.concatenate([g[lower] - lbg[lower], ubg[upper] - g[upper]])

    def inequality_jacobian(x: np.ndarray) -> np.ndarray:
        jac = evaluate("jacobian", x)[2:]
        return np.vstack([jac[lower], -jac[upper]])

    try:
        res = minimize(
            lambda x: float(evaluate("values", x)[0]),
            z_start,
            jac=lambda x: evaluate("jacobian", x)[0],
            constraints=[{"type": "ineq", "fun": inequalities, "jac": inequality_jacobian}],
            method="SLSQP",
            options={"maxiter": SLSQP_MAX_ITER, "ftol": SLSQP_FTOL},
        )
    except _Stalled:
        return best[1], "optimal", len(history) - 1, best[2]
    except (_WallTimeExceeded, RuntimeError) as exc:  # RuntimeError: CVODES failed at a trial point
        return best[1], "time_limit" if isinstance(exc, _WallTimeExceeded) else "solver_failure", len(history), best[2]
    fg = evaluate("values", res.x)
    if problem.violation(fg) > feasibility_tol:  # SLSQP stopped at an infeasible point: keep the best feasible one
        return best[1], "infeasible" if res.status == 4 else "not_converged", int(res.nit), best[2]
    # Status 8 (line search stalled) at a feasible point: converged to the noise of the integrator tolerances.
    status = {0: "optimal", 8: "optimal", 9: "iteration_limit"}.get(int(res.status), str(res.message))
    if fg[0] > best[0]:  # SLSQP's last point is feasible but worse than one it passed: keep the better one
        return best[1], status, int(res.nit), best[2]
    return res.x, status, int(res.nit), fg
