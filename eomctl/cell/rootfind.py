"""Scalar root finding for the simulator's event and limit searches."""

from __future__ import annotations

import itertools
from typing import Any

# (current [A], d violation / d current, change of current since the limited step before [A]) of a limited step.
LimitMemory = tuple[float, float, float]


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


def bracketed_search(at_current: Any, current_max_a: float, tol: float) -> Any:
    """Largest feasible current: full current if feasible, else regula falsi between 0 A and full current.

    ``at_current(i)`` returns ``(violation, payload)`` (violation <= 0: every limit holds; payload None: the trial
    failed). Returns the payload of the current found (None if none could be integrated).
    """
    f_hi, payload = at_current(current_max_a)
    if f_hi <= 0 or current_max_a <= 0:
        return payload
    f_lo, low = at_current(0.0)
    if low is None:
        return None
    if f_lo >= 0:  # even resting violates a limit (a hot cell): rest
        return low
    return illinois(at_current, 0.0, f_lo, current_max_a, f_hi, ftol=tol, feasible=True)[1]


def predicted_search(
    at_current: Any, current_max_a: float, tol: float, last_a: float, slope: float, drift_a: float
) -> Any:
    """Secant steps from a remembered limited current; None when they do not settle (the caller then brackets).

    The first trial extrapolates the last change of the limited current (a taper falls smoothly); each further
    trial is a secant step aimed at the middle of the accepted band (-tol, 0], with the slope updated from the
    last two trials. After four steps without landing, a bracket found on the way goes to regula falsi.
    """
    target = -0.5 * tol
    guess_a = min(max(last_a + drift_a, 0.0), current_max_a)
    f_guess, payload = at_current(guess_a)
    feasible: tuple[float, float] | None = None
    infeasible: tuple[float, float] | None = None
    for _ in range(4):
        if payload is None:
            return None
        if -tol < f_guess <= 0 or (guess_a == current_max_a and f_guess <= 0):
            return payload  # on the limit, or feasible at full current (not limited any more)
        if f_guess > 0:
            infeasible = (guess_a, f_guess)
        else:
            feasible = (guess_a, f_guess)
        nxt = min(max(guess_a - (f_guess - target) / slope, 0.0), current_max_a)
        f_next, next_payload = at_current(nxt)
        if nxt != guess_a and (f_next - f_guess) / (nxt - guess_a) > 0:
            slope = (f_next - f_guess) / (nxt - guess_a)
        guess_a, f_guess, payload = nxt, f_next, next_payload
    if payload is not None and -tol < f_guess <= 0:
        return payload
    if feasible is not None and infeasible is not None:
        return illinois(at_current, *feasible, *infeasible, ftol=tol, feasible=True)[1]
    return None


def next_limit_memory(
    current_a: float, trials: list[tuple[float, float]], previous: LimitMemory | None
) -> LimitMemory | None:
    """What to remember of a limited step: its current, the violation's slope in current, the change since the last.

    The slope is the secant of the trials closest to the current found; None when no positive slope is known.
    """
    near = sorted(trials, key=lambda t: abs(t[0] - current_a))[:3]
    slopes = [(fb - fa) / (ib - ia) for (ia, fa), (ib, fb) in itertools.combinations(near, 2) if ib != ia and fb != fa]
    positive = [d for d in slopes if d > 0]
    if positive:
        slope = positive[0]
    elif previous is not None:
        slope = previous[1]
    else:
        return None
    # Extrapolate only small, smooth changes (a taper); a jump (new episode phase) restarts from no drift.
    drift_a = current_a - previous[0] if previous is not None else 0.0
    if abs(drift_a) > 0.1 * current_a:
        drift_a = 0.0
    return (current_a, slope, drift_a)
