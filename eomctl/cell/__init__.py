"""Layer 2, the cell: catalogue of parameter sets, the compiled PyBaMM model, the simulator and its limit searches,
the experiment-step runner and HPPC pulse analysis."""
