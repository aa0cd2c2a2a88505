"""Many cells of one model advanced by one compiled call: the batched limit-controller step.

A set of :meth:`~eomctl.cell.simulator.CellSimulator.twin` simulators shares one compiled model. Their next limited
steps (:meth:`~eomctl.cell.simulator.CellSimulator.step_limited` with ``limit_control="controller"``, one integrator
call each) are independent, so CasADi's ``map`` runs them as one call over the stacked inputs, on ``threads`` threads.
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

import casadi
import numpy as np

from eomctl.cell.simulator import CellSimulator, Limits, StepResult

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
        self._mapped: dict[tuple[int, int], casadi.Function] = {}
        self.calls = 0  # mapped calls made (for benchmarks)

    def _mapped_step(self, sim: CellSimulator, n: int) -> casadi.Function:
        key = (id(sim._controlled.step), n)
        if key not in self._mapped:
            self._mapped[key] = sim._controlled.step.map(n, "thread", min(self.threads, n))
        return self._mapped[key]

    def prefetch(self, sims: Sequence[CellSimulator], requests: Sequence[Request], dt_s: float) -> int:
        """Compute the next limited step of every cell with a request in one call; returns how many were batched.

        A cell whose integration fails (or leaves the physical range) gets no prefetched step: its own
        ``step_limited`` then integrates it alone and handles the failure as usual.
        """
        chosen = [(sim, CellSimulator._limits(*req)) for sim, req in zip(sims, requests, strict=True) if req]
        chosen = [(sim, limits) for sim, limits in chosen if sim.config.limit_control == "controller"]
        if not chosen:
            return 0
        first = chosen[0][0]
        if any(sim.compiled is not first.compiled for sim, _ in chosen):
            raise ValueError("a batch needs twins of one simulator (CellSimulator.twin)")
        starts = [sim.state for sim, _ in chosen]
        z0 = [casadi.vertcat(st.z, sim._start_current(st, lim)) for (sim, lim), st in zip(chosen, starts, strict=True)]
        args = (
            casadi.horzcat(*[st.x for st in starts]),
            casadi.horzcat(*z0),
            casadi.DM(np.column_stack([st.inputs for st in starts])),
            casadi.DM(np.column_stack([np.asarray(lim, dtype=float) for _, lim in chosen])),
            casadi.DM(np.full((1, len(chosen)), dt_s)),
        )
        try:
            x, z, small = self._mapped_step(first, len(chosen))(*args)
        except RuntimeError:
            return 0  # one cell failed the call: every cell integrates alone (and the failing one is flagged)
        self.calls += 1
        values = np.array(small)
        batched = 0
        for k, ((sim, limits), start) in enumerate(zip(chosen, starts, strict=True)):
            try:
                end, q = sim._controlled_end(start, x[:, k], z[:, k], values[:, k], dt_s)
            except RuntimeError:
                continue
            sim._prefetched = (start, limits, dt_s, end, q)
            batched += 1
        return batched


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


__all__ = ["BatchStepper", "Limits", "Request", "step_limited_many"]
