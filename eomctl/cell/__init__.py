"""Layer 2, the cell: catalogue of parameter sets, the compiled PyBaMM model, the simulator with its limit controller
and limit searches, batched twins, the experiment-step runner and HPPC pulse analysis."""
