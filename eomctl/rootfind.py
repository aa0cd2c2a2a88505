"""Scalar root finding for the simulator's event and limit searches."""

from __future__ import annotations

from typing import Any


def illinois(
    func: Any, lo: float, f_lo: float, hi: float, f_hi: float, ftol: float, feasible: bool = False, max_iter: int = 60
) -> tuple[float, Any]:
    """Root of a monotonic scalar function by the Illinois variant of regula falsi.

    ``func(x)`` returns ``(f, payload)``; ``f_lo`` and ``f_hi`` must differ in sign. Stops when ``|f| < ftol``; with
    ``feasible`` only points with ``f <= 0`` are accepted (the best one found is returned). Returns ``(x, payload)``.
    """
    best: tuple[float, Any] | None = None
    side = 0
    for _ in range(max_iter):
        x = hi - f_hi * (hi - lo) / (f_hi - f_lo)
        f, payload = func(x)
        if (not feasible or f <= 0) and (best is None or abs(f) < best[0]):
            best = (abs(f), (x, payload))
        if abs(f) < ftol and (not feasible or f <= 0):
            return x, payload
        if (f > 0) == (f_hi > 0):
            hi, f_hi = x, f
            if side == 1:
                f_lo /= 2
            side = 1
        else:
            lo, f_lo = x, f
            if side == -1:
                f_hi /= 2
            side = -1
        if abs(hi - lo) <= 1e-12 * max(1.0, abs(hi)):
            break
    if best is None:
        raise RuntimeError("root search found no admissible point")
    return best[1]
