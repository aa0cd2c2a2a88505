"""Many cells of one model advanced by one compiled call: the batched limit-controller step.

A set of :meth:`~eomctl.cell.simulator.CellSimulator.twin` simulators shares one compiled model. Their next limited
steps (:meth:`~eomctl.cell.simulator.CellSimulator.step_limited` with ``limit_control="controller"``: one constant-
current call where no limit binds, else one call of the limit controller) are independent, so CasADi's ``map`` runs
them as at most two calls over the stacked inputs (the constant-current ones, then the controlled ones), on
``threads`` threads.
Each cell keeps its own current, limits, inputs (aging state, temperature) and state; the results are handed to each
simulator as a *prefetched* step, which its next ``step_limited`` with the same start state, limits and ``dt_s`` takes
instead of integrating. Anything that does not match (an env that rests, resets or fails) simply integrates alone, so
the batched path gives the same numbers as N separate simulators (tested) and changes no caller.

Each integrator call restarts at a current step, so the cost is in per-call work, not in the model: the gain comes
from running cells on several threads in one process (no process hops, one copy of the model) and from Python's
per-call overhead paid once per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import casadi
import numpy as np

from eomctl.cell.simulator import CellSimulator, Limits, SimState, StepResult
from eomctl.core.interrupts import deferred
from eomctl.core.streams import solver_messages_hidden

#: (current_max_a, v_max_v, anode_min_v, t_max_k) as step_limited takes them; None leaves a cell out of the batch.
Request = tuple[float, float | None, float | None, float | None] | None


class BatchStepper:
    """Advances twins of one simulator by one mapped call of the limit-controller step.

    Parameters
    ----------
    threads : int
        Threads of the mapped call (CasADi ``map(n, "thread", threads)``); 1 runs the cells in sequence in one call.
    """

    def __init__(self, threads: int = 1) -> None:
        self.threads = max(int(threads), 1)
        self._maps: dict[tuple[int, int], casadi.Function] = {}
        self.calls = 0  # mapped calls made (for benchmarks)

    def _mapped(self, function: casadi.Function, n: int) -> casadi.Function:
        key = (id(function), n)
        if key not in self._maps:
            self._maps[key] = function.map(n, "thread", min(self.threads, n))
        return self._maps[key]

    def prefetch(self, sims: Sequence[CellSimulator], requests: Sequence[Request], dt_s: float) -> int:
        """Compute the next limited step of every cell with a request, batched; returns how many were prefetched.

        As :meth:`~eomctl.cell.simulator.CellSimulator.step_limited` does for one cell: cells at which no limit binds
        at the start are first run at constant current (one mapped ODE call), and those whose end keeps every limit
        are done; the others, and the cells at which a limit binds at once, run the limit controller (one mapped DAE
        call). A cell whose integration fails (or leaves the physical range) gets no prefetched step: its own
        ``step_limited`` then integrates it alone and handles the failure as usual.
        """
        chosen = [(sim, CellSimulator._limits(*req)) for sim, req in zip(sims, requests, strict=True) if req]
        cells = [_Cell(sim, limits, sim.state) for sim, limits in chosen if sim.config.limit_control == "controller"]
        if not cells:
            return 0
        first = cells[0].sim
        if any(cell.sim.compiled is not first.compiled for cell in cells):
            raise ValueError("a batch needs twins of one simulator (CellSimulator.twin)")
        for cell in cells:
            cell.start_a = cell.sim._start_current(cell.start, cell.limits)
        free = [cell for cell in cells if cell.sim.constant_first(cell.start, cell.start_a, cell.limits)]
        done = self._constant(first, free, dt_s)
        # A cell that ran at full current and left a limit runs again under the controller; if the constant-current
        # call failed, its cells get nothing (each integrates alone).
        retry = [cell for cell in free if cell not in done] if done is not None else []
        self._controlled(first, [cell for cell in cells if cell not in free] + retry, dt_s)
        batched = 0
        for cell in cells:
            if cell.result is not None:
                cell.sim._prefetched = (cell.start, cell.limits, dt_s, *cell.result)
                batched += 1
        return batched

    def _call(self, function: casadi.Function, args: Sequence[casadi.DM]) -> Any:
        """One mapped call; None if any cell failed it."""
        try:
            with deferred(), solver_messages_hidden():
                out = function(*args)
        except RuntimeError:
            return None
        self.calls += 1
        return out

    def _constant(self, first: CellSimulator, cells: list[_Cell], dt_s: float) -> list[_Cell] | None:
        """Run ``cells`` at their full current (mapped ODE step); the cells whose end keeps every limit, done. None
        when the call failed: those cells then get nothing (each integrates alone)."""
        if not cells:
            return []
        p = np.column_stack([cell.start.inputs for cell in cells])
        p[0, :], p[1, :] = [-cell.limits[0] for cell in cells], 0.0  # PyBaMM's sign: positive discharges
        args = (
            casadi.horzcat(*[cell.start.x for cell in cells]),
            casadi.horzcat(*[cell.start.z for cell in cells]),
            casadi.DM(p),
            casadi.DM(np.full((1, len(cells)), dt_s)),
        )
        out = self._call(self._mapped(first._fused, len(cells)), args)
        if out is None:
            return None
        x, z, small = out
        values, n_z = np.array(small), first.n_z
        done = []
        for k, cell in enumerate(cells):
            try:
                z_end = z[:, k] if n_z else cell.start.z
                end, q = cell.sim._end_state(cell.start, x[:, k], z_end, values[:, k], cell.limits[0], dt_s)
            except RuntimeError:
                continue
            if cell.sim._within(end, cell.limits):
                cell.result = (end, q)
                done.append(cell)
        return done

    def _controlled(self, first: CellSimulator, cells: list[_Cell], dt_s: float) -> None:
        """Run ``cells`` under the limit controller (mapped DAE step)."""
        if not cells:
            return
        args = (
            casadi.horzcat(*[cell.start.x for cell in cells]),
            casadi.horzcat(*[casadi.vertcat(cell.start.z, cell.start_a) for cell in cells]),
            casadi.DM(np.column_stack([cell.start.inputs for cell in cells])),
            casadi.DM(np.column_stack([np.asarray(cell.limits, dtype=float) for cell in cells])),
            casadi.DM(np.full((1, len(cells)), dt_s)),
        )
        out = self._call(self._mapped(first._controlled.step, len(cells)), args)
        if out is None:
            return
        x, z, small = out
        values = np.array(small)
        for k, cell in enumerate(cells):
            try:
                cell.result = cell.sim._controlled_end(cell.start, x[:, k], z[:, k], values[:, k], dt_s)
            except RuntimeError:
                continue


@dataclass(eq=False)
class _Cell:
    """One cell of a batch: its simulator, limits, start state, start current and, once computed, its step."""

    sim: CellSimulator
    limits: Limits
    start: SimState
    start_a: float = 0.0
    result: tuple[SimState, np.ndarray] | None = None


def step_limited_many(
    sims: Sequence[CellSimulator], requests: Sequence[Request], dt_s: float, stepper: BatchStepper | None = None
) -> list[StepResult | None]:
    """``[sim.step_limited(*request, dt_s) ...]`` for twins of one simulator, their integrations in one call (None
    where the request is None)."""
    (stepper or BatchStepper()).prefetch(sims, requests, dt_s)
    results: list[StepResult | None] = []
    for sim, req in zip(sims, requests, strict=True):
        if req is None:
            results.append(None)
            continue
        current_max_a, v_max_v, anode_min_v, t_max_k = req
        results.append(sim.step_limited(current_max_a, dt_s, v_max_v=v_max_v, anode_min_v=anode_min_v, t_max_k=t_max_k))
    return results


__all__ = ["BatchStepper", "Request", "step_limited_many"]
