"""Layer 5 (beside :mod:`eomctl.evaluation`): cycle life: cycling phases, the engine, fast extrapolation, lifetime
comparisons and simulated fleets."""
