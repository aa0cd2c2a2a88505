"""Layer 5 (beside :mod:`eomctl.lifetime`): evaluation of policies per charge: metrics, matched-time comparisons,
Pareto/EEZ maths, protocol sweeps, the optimal-control bound and rollouts."""
